import { describe, expect, it } from 'vitest';
// The built modules: the remote agent is a `baton agent` process loading dist/agent-tasks.js.
import { defaultAgentMode } from '../dist/job-timings.js';
import { runLatency } from '../dist/latency.js';
import { freshPlace } from '../dist/services.js';
import { DEFAULT_POSTGRES, DEFAULT_REDIS } from '../dist/standard.js';
import { runThroughput } from '../dist/throughput.js';

const SERVICES = { postgres: DEFAULT_POSTGRES, redis: DEFAULT_REDIS };

describe('--agent remote: a baton agent process over WebSocket', () => {
  it('defaults to in-process on SQLite and remote on PostgreSQL and Redis (the like-for-like rule)', () => {
    expect(defaultAgentMode(undefined)).toBe('in-process');
    expect(defaultAgentMode('sqlite::memory:')).toBe('in-process');
    expect(defaultAgentMode('postgres://root@127.0.0.1:5432/test?schema=x')).toBe('remote');
    expect(defaultAgentMode('postgresql://h/db')).toBe('remote');
    expect(defaultAgentMode('redis://127.0.0.1:6379/12?prefix=x')).toBe('remote');
  });

  it.each(['sqlite', 'postgres', 'redis'] as const)(
    'throughput runs every job exactly once on %s, timed in the agent process',
    async (backend) => {
      const place = freshPlace(backend, SERVICES);
      try {
        const result = await runThroughput({
          ...(place.store !== undefined && { store: place.store }),
          agent: 'remote',
          jobs: 300,
          concurrency: 20,
          chunkSize: 100,
          timeoutMs: 50_000,
        });
        expect(result).toMatchObject({
          system: 'baton',
          backend,
          workload: 'throughput',
          agent: 'remote',
          jobs: 300,
          processed: 300,
          duplicates: 0,
          succeeded: 300,
          failed: 0,
          ok: true,
        });
        expect(result.error).toBeUndefined();
        for (const field of [
          'process_per_s',
          'pickup_p50_ms',
          'pickup_p99_ms',
          'agent_cpu_ms',
          'agent_rss_mb',
        ] as const) {
          expect(result[field], field).toEqual(expect.any(Number));
        }
        expect(result.pickup_p99_ms as number).toBeGreaterThanOrEqual(result.pickup_p50_ms as number);
      } finally {
        await place.drop();
      }
    },
    60_000,
  );

  it('latency runs every submitted job once with a remote agent', async () => {
    const result = await runLatency({ store: 'sqlite::memory:', agent: 'remote', rate: 100, seconds: 1, warmupMs: 0 });
    expect(result).toMatchObject({
      backend: 'sqlite',
      workload: 'latency',
      agent: 'remote',
      jobs: 100,
      processed: 100,
      duplicates: 0,
      enqueue_acked: 100,
      ok: true,
    });
    expect(result.pickup_p50_ms).toEqual(expect.any(Number));
    expect(result.agent_cpu_ms).toEqual(expect.any(Number));
  }, 40_000);

  it('labels the in-process agent too', async () => {
    const result = await runThroughput({ store: 'sqlite::memory:', jobs: 50, concurrency: 5, timeoutMs: 25_000 });
    expect(result).toMatchObject({ agent: 'in-process', processed: 50, ok: true });
    expect(result).not.toHaveProperty('agent_cpu_ms');
  });
});
