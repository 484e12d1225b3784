import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store, StoreEvent } from '@baton/store';
import { Redis } from 'ioredis';
import { dropPrefix } from './redis-prefix.js';

/**
 * Redis underneath fair share and preemption: owner loads from the owners' counts and
 * `{p}:leasedowners`, per-owner pending heads from `{p}:ownerqueued:*` and
 * `{p}:queuedowners:*`, decayed usage in `{p}:usage`, preempt.lua, and the upgrade of a
 * version 3 store to those keys.
 */
const HOST = '127.0.0.1';
const PORT = 6379;
const prefix = `baton-fair-${randomBytes(5).toString('hex')}`;
let prefixes = 0;
const redis = new Redis({ host: HOST, port: PORT });

afterAll(async () => {
  // Each test's store has a prefix of its own (`${prefix}-N`), so each is dropped: dropping
  // `prefix` alone matched none of their keys, and every run left thousands behind, which made
  // every later scan of the Redis server slower.
  for (let n = 0; n < prefixes; n++) await dropPrefix(redis, `${prefix}-${n}`);
  await dropPrefix(redis, prefix);
  await redis.quit();
});

function database(): { p: string; open: () => Promise<Store>; clock: { now: number } } {
  const p = `${prefix}-${prefixes++}`;
  // Ahead of the jobs' run times (Date.now() when made), so they are due.
  const clock = { now: Date.now() + 10_000 };
  return {
    p,
    clock,
    open: () => openStore(`redis://${HOST}:${PORT}?prefix=${p}`, { clock: () => clock.now, random: () => 0.5 }),
  };
}

let made = 0;
function newJob(owner: string, overrides: Partial<NewJob> = {}): NewJob {
  // Ids in making order, so FIFO within a priority is the order of this file's calls.
  const now = Date.now() + made++;
  return {
    id: newJobId(now),
    queue: 'q',
    task: 't',
    owner,
    payload: null,
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    maxAttempts: 2,
    backoffMs: 0,
    timeoutMs: null,
    runAt: now - 1000,
    idempotencyKey: null,
    createdAt: now - 1000,
    ...overrides,
  };
}

const place = (jobId: string, agentId = 'a') => ({ jobId, agentId, gpus: [] });
const byOwner = <T extends { owner: string }>(xs: T[]): T[] => [...xs].sort((a, b) => a.owner.localeCompare(b.owner));

describe('Redis fair share', () => {
  it('reads owner loads from the leased owners only: GPUs, or slots for jobs without GPUs', async () => {
    const db = database();
    const store = await db.open();
    try {
      const ids = (
        await store.enqueue([
          newJob('ann', { resources: { ...DEFAULT_RESOURCES, gpus: 2, slots: 4 } }),
          newJob('ann', { resources: { ...DEFAULT_RESOURCES, slots: 3 } }),
          newJob('bob'),
          newJob('cy'),
        ])
      ).map((r) => r.job.id);
      expect(await store.ownerLoads()).toEqual([]);
      const leases = await store.assign(
        ids.slice(0, 3).map((id) => place(id)),
        60_000,
      );
      const lease = (n: number) => ({ jobId: ids[n]!, leaseToken: leases[n]!.leaseToken });
      await store.start([lease(0)], 60_000);
      expect(byOwner(await store.ownerLoads())).toEqual([
        { owner: 'ann', leasedJobs: 2, leasedGpus: 2, leasedUnits: 5 },
        { owner: 'bob', leasedJobs: 1, leasedGpus: 0, leasedUnits: 1 },
      ]);
      await store.complete([{ ...lease(2), outcome: 'succeeded', result: null }]);
      await store.release([{ ...lease(0), error: { code: 'GPU', message: 'gone', retryable: true } }]);
      expect(await store.ownerLoads()).toEqual([{ owner: 'ann', leasedJobs: 1, leasedGpus: 0, leasedUnits: 3 }]);
      await store.cancel(ids[1]!);
      expect(await store.ownerLoads()).toEqual([]);
      expect(await redis.exists(`{${db.p}}:leasedowners`)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('reads each owner’s first queued jobs per queue, in scheduling order, with the owner', async () => {
    const db = database();
    const store = await db.open();
    try {
      const ann = (await store.enqueue(Array.from({ length: 5 }, () => newJob('ann')))).map((r) => r.job.id);
      const bob = (
        await store.enqueue([newJob('bob'), newJob('bob', { priority: 'high' }), newJob('bob', { queue: 'other' })])
      ).map((r) => r.job.id);
      const heads = await store.pending([{ queue: 'q', limit: 2, perOwner: true }]);
      expect(heads.map((j) => [j.owner, j.id])).toEqual([
        ['ann', ann[0]],
        ['ann', ann[1]],
        ['bob', bob[1]],
        ['bob', bob[0]],
      ]);
      // The whole queue's head fills the owner too.
      expect((await store.pending([{ queue: 'q', limit: 1 }]))[0]).toMatchObject({ id: bob[1], owner: 'bob' });
      await expect(
        store.pending([
          { queue: 'q', limit: 1, perOwner: true, after: { priority: 'normal', priorityLevel: 0, id: ann[0]! } },
        ]),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });

      // Leaving queued leaves the owner's index; the last one takes the owner off the queue's set.
      const leases = await store.assign([place(bob[0]!), place(bob[1]!), place(ann[0]!)], 60_000);
      expect((await store.pending([{ queue: 'q', limit: 9, perOwner: true }])).map((j) => j.id)).toEqual(ann.slice(1));
      expect(await redis.smembers(`{${db.p}}:queuedowners:q`)).toEqual(['ann']);
      // A preempted job is back in its owner's index at its place.
      await store.preempt([{ jobId: bob[1]!, leaseToken: leases[1]!.leaseToken, message: 'make room' }]);
      expect(
        (
          await store.pending([
            { queue: 'q', limit: 1, perOwner: true },
            { queue: 'other', limit: 1, perOwner: true },
          ])
        ).map((j) => j.id),
      ).toEqual([ann[1], bob[1], bob[2]]);
      for (const id of [...ann, ...bob]) {
        const job = await store.getJob(id);
        if (job?.state === 'queued') await store.cancel(id);
      }
      expect(await store.pending([{ queue: 'q', limit: 9, perOwner: true }])).toEqual([]);
      expect(await redis.keys(`{${db.p}}:*queued*`)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('decays usage to now and adds to it, atomically per owner, in store time', async () => {
    const db = database();
    const store = await db.open();
    const halfLife = 60_000;
    try {
      await store.addUsage(
        [
          { owner: 'ann', units: 100 },
          { owner: 'bob', units: 0 },
          { owner: 'ann', units: 28 },
        ],
        halfLife,
      );
      expect(await store.usage(halfLife)).toEqual([{ owner: 'ann', units: 128 }]);
      db.clock.now += halfLife;
      expect(await store.usage(halfLife)).toEqual([{ owner: 'ann', units: 64 }]);
      // Many schedulers adding at once lose nothing.
      await Promise.all(Array.from({ length: 20 }, () => store.addUsage([{ owner: 'ann', units: 1 }], halfLife)));
      expect((await store.usage(halfLife))[0]!.units).toBeCloseTo(84, 9);
      db.clock.now += 2 * halfLife;
      await store.addUsage([{ owner: 'bob', units: 0.5 }], halfLife);
      expect(byOwner(await store.usage(halfLife)).map((u) => [u.owner, u.units])).toEqual([
        ['ann', 21],
        ['bob', 0.5],
      ]);
      // One bad entry adds nothing; a bad half-life is refused.
      await expect(
        store.addUsage(
          [
            { owner: 'bob', units: 1 },
            { owner: 'ann', units: -1 },
          ],
          halfLife,
        ),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(store.addUsage([{ owner: 'bob', units: 1 }], 1.5)).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
      await expect(store.usage(0)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      expect((await store.usage(halfLife)).find((u) => u.owner === 'bob')!.units).toBe(0.5);
      db.clock.now += 60 * halfLife;
      expect(await store.usage(halfLife)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe('Redis preempt', () => {
  it('gives the lease back without spending the attempt, records it, and refuses the old token', async () => {
    const db = database();
    const store = await db.open();
    const events: StoreEvent[] = [];
    const off = store.subscribe((e) => events.push(e));
    try {
      const ids = (
        await store.enqueue([
          newJob('ann', { resources: { ...DEFAULT_RESOURCES, gpus: 1 } }),
          newJob('bob', { queue: 'q2' }),
          newJob('bob'),
        ])
      ).map((r) => r.job.id);
      const leases = await store.assign(
        ids.map((id) => place(id, 'agent-1')),
        60_000,
      );
      const lease = (n: number) => ({ jobId: ids[n]!, leaseToken: leases[n]!.leaseToken });
      await store.start([lease(0)], 60_000);
      await store.complete([{ ...lease(2), outcome: 'succeeded', result: null }]);
      events.length = 0;
      db.clock.now += 500;

      const results = await store.preempt([
        { ...lease(0), message: 'for a high job' },
        { ...lease(1), message: 'for a high job' },
        { ...lease(2), message: 'x' },
        { jobId: 'missing', leaseToken: 'x', message: 'x' },
        { ...lease(0), message: 'twice' },
      ]);
      expect(results.map((r) => (r.ok ? r.state : r.code))).toEqual([
        'queued',
        'queued',
        'FINISHED',
        'NOT_FOUND',
        'STALE_LEASE',
      ]);
      const job = await store.getJob(ids[0]!);
      expect(job).toMatchObject({
        state: 'queued',
        attempts: 1,
        maxAttempts: 3,
        agentId: null,
        leaseExpiresAt: null,
        runAt: db.clock.now,
        error: { code: 'PREEMPTED', message: 'for a high job', retryable: true },
      });
      expect(await store.getAttempts(ids[0]!)).toEqual([
        {
          attempt: 1,
          agentId: 'agent-1',
          assignedAt: expect.any(Number),
          startedAt: expect.any(Number),
          finishedAt: db.clock.now,
          outcome: 'preempted',
          error: { code: 'PREEMPTED', message: 'for a high job', retryable: true },
        },
      ]);
      expect(await store.heartbeat([lease(0)], 60_000)).toMatchObject([{ ok: false, code: 'STALE_LEASE' }]);
      expect(await store.ownerLoads()).toEqual([]);
      expect(await store.ownerUsage('ann')).toMatchObject({ leasedJobs: 0, leasedGpus: 0, waitingJobs: 1 });
      const enqueued = events.filter((e) => e.type === 'enqueued');
      expect(enqueued).toHaveLength(1);
      expect((enqueued[0] as { queues: string[] }).queues.sort()).toEqual(['q', 'q2']);
      // Back in scheduling order at once: no backoff.
      expect((await store.pending([{ queue: 'q', limit: 5 }])).map((j) => j.id)).toEqual([ids[0]]);
      expect(await store.preempt([])).toEqual([]);
    } finally {
      off();
      await store.close();
    }
  });
});

describe('Redis fair share upgrade', () => {
  it('upgrades a version 3 store: units, leased owners and per-owner queued indexes from the jobs', async () => {
    const db = database();
    let store = await db.open();
    const jobs = Array.from({ length: 1100 }, (_, i) =>
      newJob(`o${i % 3}`, {
        queue: `q${i % 2}`,
        resources: { ...DEFAULT_RESOURCES, gpus: i % 5 === 0 ? 2 : 0, slots: 1 + (i % 2) },
      }),
    );
    const ids = (await store.enqueue(jobs)).map((r) => r.job.id);
    await store.assign(
      ids.slice(0, 40).map((id) => place(id)),
      60_000,
    );
    await store.cancel(ids[50]!);
    await store.addUsage([{ owner: 'o1', units: 5 }], 1000);
    const loads = byOwner(await store.ownerLoads());
    const pendingNow = await store.pending([
      { queue: 'q0', limit: 3, perOwner: true },
      { queue: 'q1', limit: 3, perOwner: true },
    ]);
    const fairKeys = async () => (await redis.keys(`{${db.p}}:*queued*`)).filter((k) => !k.endsWith('}:queued'));
    const indexKeys = (await fairKeys()).sort();
    await store.close();
    // What version 3 left: no units, leased owners or per-owner indexes (and a crashed
    // upgrade's leftovers: a stray member and a wrong count).
    const p = `{${db.p}}`;
    for (const owner of ['o0', 'o1', 'o2']) await redis.hdel(`${p}:owner:${owner}`, 'units');
    await redis.del(`${p}:leasedowners`, ...indexKeys);
    await redis.sadd(`${p}:queuedowners:q0`, 'ghost');
    await redis.zadd(`${p}:ownerqueued:q0\0ghost`, 0, 'q0\0stray\0x');
    await redis.hset(`${p}:owner:o2`, 'units', '77');
    await redis.set(`${p}:schema`, '3');

    const stores = await Promise.all([db.open(), db.open()]);
    store = stores[0]!;
    try {
      expect(await redis.get(`${p}:schema`)).toBe('5');
      expect(await redis.exists(`${p}:upgrading`)).toBe(0);
      expect(byOwner(await store.ownerLoads())).toEqual(loads);
      expect(loads.reduce((n, l) => n + l.leasedJobs, 0)).toBe(40);
      expect(
        await store.pending([
          { queue: 'q0', limit: 3, perOwner: true },
          { queue: 'q1', limit: 3, perOwner: true },
        ]),
      ).toEqual(pendingNow);
      expect((await fairKeys()).sort()).toEqual(indexKeys);
      expect((await store.usage(1000))[0]).toMatchObject({ owner: 'o1' });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
