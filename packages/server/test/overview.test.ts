import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { JobState } from '@baton/core';
import { JOB_STATES } from '@baton/core';
import type { QueueStats, Store } from '@baton/store';
import { OverviewHistory } from '../src/overview/overview-history.js';
import type { Harness } from './harness.js';
import { isFinal, startHarness } from './harness.js';
import { WireAgent } from './agent-wire-client.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const counts = (c: Partial<Record<JobState, number>>) =>
  Object.fromEntries(JOB_STATES.map((s) => [s, c[s] ?? 0])) as Record<JobState, number>;

describe('OverviewHistory', () => {
  it('samples queueStats totals, finishedPerSec from the final counts clamped at 0, keeping its span', async () => {
    let now = 1_000_000;
    let stats: QueueStats[] = [];
    let fail = false;
    const store = {
      queueStats: async () => {
        if (fail) throw new Error('store down');
        return stats;
      },
    } as unknown as Store;
    const history = new OverviewHistory(store, {
      logger: pino({ level: 'silent' }),
      intervalMs: 1000,
      spanMs: 3000,
      clock: () => now,
    });
    stats = [
      { queue: 'a', counts: counts({ queued: 2, running: 1, assigned: 1, succeeded: 10 }), oldestQueuedAgeMs: 500 },
      { queue: 'b', counts: counts({ queued: 1, failed: 2, cancelled: 1 }), oldestQueuedAgeMs: 900 },
    ];
    await history.sample();
    expect(history.history()).toEqual({
      intervalMs: 1000,
      samples: [
        {
          at: 1_000_000,
          queued: 3,
          running: 2,
          succeeded: 10,
          failed: 2,
          cancelled: 1,
          oldestQueuedAgeMs: 900,
          finishedPerSec: null,
        },
      ],
    });
    now += 2000;
    stats = [{ queue: 'a', counts: counts({ succeeded: 17 }), oldestQueuedAgeMs: null }];
    await history.sample();
    // 10 + 2 + 1 = 13 finished before, 17 now: 4 in 2 s.
    expect(history.history().samples[1]).toMatchObject({ queued: 0, oldestQueuedAgeMs: null, finishedPerSec: 2 });
    now += 1000;
    stats = [{ queue: 'a', counts: counts({ succeeded: 5 }), oldestQueuedAgeMs: null }];
    await history.sample();
    // Retention deleted finished jobs: no negative rate.
    expect(history.history().samples[2]?.finishedPerSec).toBe(0);
    fail = true;
    now += 1000;
    await history.sample();
    expect(history.history().samples).toHaveLength(3);
    fail = false;
    await history.sample();
    const kept = history.history().samples;
    expect(kept).toHaveLength(3);
    expect(kept.map((s) => s.at)).toEqual([1_002_000, 1_003_000, 1_004_000]);
  });
});

describe('GET /api/overview/history and GET /api/attention', () => {
  let h: Harness;
  let ada: Record<string, string>;
  let vic: Record<string, string>;
  const wires: WireAgent[] = [];

  beforeAll(async () => {
    h = await startHarness({ link: 'ws', agents: 0 });
    await h.post('/api/users', { name: 'ada' });
    await h.post('/api/users', { name: 'vic', role: 'viewer' });
    ada = bearer((await h.post('/api/users/ada/tokens', {})).body.token);
    vic = bearer((await h.post('/api/users/vic/tokens', {})).body.token);
  });
  afterAll(async () => {
    for (const w of wires) w.close();
    await h.close();
  });

  it('serves this server’s samples to admins and viewers; a user is refused 403', async () => {
    const r = await h.get('/api/overview/history');
    expect(r.status).toBe(200);
    expect(r.body.intervalMs).toBe(5000);
    expect(r.body.samples.length).toBeGreaterThanOrEqual(1);
    expect(r.body.samples[0]).toEqual({
      at: expect.any(Number),
      queued: expect.any(Number),
      running: expect.any(Number),
      succeeded: expect.any(Number),
      failed: expect.any(Number),
      cancelled: expect.any(Number),
      oldestQueuedAgeMs: null,
      finishedPerSec: null,
    });
    expect((await h.get('/api/overview/history', vic)).status).toBe(200);
    const refused = await h.get('/api/overview/history', ada);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
  });

  it('names what needs a look: failed jobs, unhealthy GPUs, blocked jobs by reason; a user sees their own', async () => {
    const wire = await WireAgent.connect(h.url);
    wires.push(wire);
    await wire.register({
      gpus: [0, 1].map((index) => ({ index, uuid: `GPU-${index}`, name: 'test', memoryMb: 1000, healthy: true })),
    });
    await wire.request({ t: 'gpuHealth', gpus: [{ index: 1, healthy: false, reason: 'XID 79' }] });
    const fail = await h.request('POST', '/api/jobs', { body: { task: 'demo.echo', maxAttempts: 1 }, headers: ada });
    const a = await wire.assignment(fail.body.id);
    await wire.request({
      t: 'complete',
      items: [
        {
          jobId: fail.body.id,
          leaseToken: a.leaseToken,
          outcome: 'failed',
          error: { code: 'X', message: 'x', retryable: false },
        },
      ],
    });
    await h.waitFor(fail.body.id, isFinal);
    const tagged = await h.request('POST', '/api/jobs', {
      body: { task: 'demo.echo', constraints: { tags: ['nowhere'] } },
      headers: ada,
    });
    const admins = await h.post('/api/jobs', { task: 'demo.echo', resources: { gpus: 8 } });

    const all = await h.get('/api/attention');
    expect(all.status).toBe(200);
    expect(all.body.deadLettered).toBe(1);
    expect(all.body.unhealthyGpus).toEqual([
      { agentId: expect.any(String), agentName: expect.any(String), index: 1, reason: 'XID 79' },
    ]);
    expect(all.body.strandedGpus).toEqual(expect.any(Number));
    expect(all.body.blocked).toEqual(
      expect.arrayContaining([
        { reason: 'NO_AGENT_WITH_TAGS', count: 1, jobIds: [tagged.body.id] },
        { reason: 'RESOURCES_EXCEED_AGENTS', count: 1, jobIds: [admins.body.id] },
      ]),
    );
    expect((await h.get('/api/attention', vic)).body).toEqual(all.body);

    const own = await h.get('/api/attention', ada);
    expect(own.body).toEqual({
      deadLettered: 1,
      unhealthyGpus: [],
      strandedGpus: expect.any(Number),
      blocked: [{ reason: 'NO_AGENT_WITH_TAGS', count: 1, jobIds: [tagged.body.id] }],
    });
  });
});
