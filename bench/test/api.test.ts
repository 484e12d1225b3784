import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
// The built modules: the bench forks its load generator and the peer from the compiled files
// beside them and runs the built `baton` CLI as the server and agent processes.
import { runApi } from '../dist/api.js';
import { peerApp } from '../dist/peers/bullmq-api.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const REDIS = { host: '127.0.0.1', port: 6379, db: 12 };

function bench(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('api workload', () => {
  it.each([
    [['api', '--clients', '0'], /--clients must be a positive integer, got "0"/],
    [['api', '--clients', 'x'], /--clients must be a positive integer, got "x"/],
    [['api', '--seconds', '0'], /--seconds must be a positive integer, got "0"/],
    [['api', '--peer', 'sidekiq'], /--peer takes bullmq or none, got "sidekiq"/],
    [['api', '--store', 'sqlite::memory:'], /not sqlite::memory:/],
    [['api', '--marker-rate', '5'], /--marker-rate goes with the events workload/],
    [['latency', '--peer', 'none'], /--peer goes with the api workload/],
    [['api', '--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j with exit code 2 and a clear message', (args, message) => {
    const run = bench(...args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/api {10}C clients/);
    expect(run.stdout).toBe('');
  });

  it('refuses a store URL no backend takes, with exit code 2', () => {
    const run = bench('api', '--store', 'mysql://x', '--clients', '1', '--seconds', '1', '--peer', 'none');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--store: store backend "mysql" is not available/);
  });

  it('a short run on SQLite: jobs accepted, no errors, every accepted job in the store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-api-test-'));
    try {
      const store = `sqlite:${join(dir, 'api.db')}`;
      const [line, ...rest] = await runApi({ store, clients: 5, seconds: 1, peer: 'none', log: () => {} });
      expect(rest).toEqual([]);
      expect(line).toMatchObject({
        system: 'baton',
        backend: 'sqlite',
        workload: 'api',
        agent: 'process',
        clients: 5,
        seconds: 1,
        errors: 0,
        refused: 0,
        failed: 0,
        unanswered: 0,
        ok: true,
      });
      const l = line as Record<string, number> &
        Record<'accepted' | 'accepted_total' | 'in_flight_at_end' | 'p50_ms' | 'p99_ms' | 'max_ms', number>;
      expect(l.accepted).toBeGreaterThan(0);
      expect(l.accepted_total).toBeGreaterThanOrEqual(l.accepted);
      expect(l.stored).toBe(l.accepted_total);
      // Every request answered in the window or cut at its end is in the sample.
      expect(l.samples).toBeGreaterThanOrEqual(l.accepted + l.in_flight_at_end);
      for (const key of ['submits_per_s', 'p50_ms', 'p95_ms', 'p99_ms', 'max_ms', 'server_cpu_ms', 'rss_mb']) {
        expect(l[key], key).toEqual(expect.any(Number));
      }
      expect(l.p50_ms).toBeLessThanOrEqual(l.p99_ms);
      expect(l.p99_ms).toBeLessThanOrEqual(l.max_ms);
      // Counted again in the store itself, after the server has gone: every accepted job is there.
      const opened = await openStore(store);
      try {
        const stats = await opened.queueStats();
        const total = stats.reduce((sum, q) => sum + Object.values(q.counts).reduce((a, b) => a + b, 0), 0);
        expect(total).toBe(l.accepted_total);
      } finally {
        await opened.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('the peer wrapper answers 201 with the id for a valid body, 400 for an invalid one, 401 without the token', async () => {
    const prefix = `bench-api-test-${randomBytes(4).toString('hex')}`;
    const queue = new Queue('api', { connection: REDIS, prefix });
    const app = peerApp(queue, 'secret');
    const post = (payload: unknown, token = 'secret') =>
      app.inject({
        method: 'POST',
        url: '/api/jobs',
        headers: { authorization: `Bearer ${token}` },
        payload: payload as object,
      });
    try {
      const ok = await post({ task: 'bench.noop', payload: { i: 1 } });
      expect(ok.statusCode).toBe(201);
      const id = (ok.json() as { id: string }).id;
      expect((await queue.getJob(id))?.data).toEqual({ i: 1 });
      expect((await post({ task: 'bench.noop' })).statusCode).toBe(201);
      for (const bad of [
        {},
        { task: '' },
        { task: 7 },
        { task: 'x', payload: [1] },
        { task: 'x', payload: 'y' },
        [1],
      ]) {
        expect((await post(bad)).statusCode, JSON.stringify(bad)).toBe(400);
      }
      expect((await post({ task: 'bench.noop' }, 'wrong')).statusCode).toBe(401);
      expect(await queue.count()).toBe(2);
    } finally {
      await app.close();
      await queue.obliterate({ force: true });
      await queue.close();
      const redis = new Redis(REDIS);
      const left = await redis.keys(`${prefix}:*`);
      if (left.length) await redis.del(...left);
      redis.disconnect();
    }
  });

  it('runs the peer process on the same load and removes its keys after', async () => {
    const [baton, peer] = await runApi({ clients: 3, seconds: 1, peer: 'bullmq', log: () => {} });
    expect(baton).toMatchObject({ system: 'baton', ok: true });
    expect(peer).toMatchObject({
      system: 'bullmq-fastify',
      backend: 'redis',
      workload: 'api',
      clients: 3,
      errors: 0,
      ok: true,
    });
    const p = peer as Record<string, number>;
    expect(p.accepted).toBeGreaterThan(0);
    expect(p.stored).toBe(p.accepted_total);
    const redis = new Redis(REDIS);
    try {
      expect(await redis.keys(`${String(peer?.prefix)}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 90_000);
});
