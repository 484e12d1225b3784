import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCES, JOB_STATES, newJobId } from '@baton/core';
import type { Job, JobState, NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { OwnerUsage, Store } from '@baton/store';
import { Redis } from 'ioredis';
import { dropPrefix } from './redis-prefix.js';

/**
 * Redis underneath accounts and quotas: each owner's counts (`{p}:owner:<owner>`, kept by every
 * job transition script) checked against the jobs themselves after every kind of transition,
 * their upgrade from a version 2 store, quota-checked assignment, and the no-quota fast path.
 */
const HOST = '127.0.0.1';
const PORT = 6379;
const prefix = `baton-accounts-${randomBytes(5).toString('hex')}`;
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

/** A prefix of this file's own for one test, and a store on it with a clock the test moves. */
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

function newJob(owner: string, overrides: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
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
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
    ...overrides,
  };
}

/** What ownerUsage must say, computed from the jobs themselves. */
function usageFromJobs(owner: string, jobs: Job[]): OwnerUsage {
  const queues = new Map<string, Record<JobState, number>>();
  let leasedJobs = 0;
  let leasedGpus = 0;
  let waitingJobs = 0;
  for (const job of jobs.filter((j) => j.owner === owner)) {
    let counts = queues.get(job.queue);
    if (!counts) {
      counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
      queues.set(job.queue, counts);
    }
    counts[job.state]++;
    if (job.state === 'assigned' || job.state === 'running') {
      leasedJobs++;
      leasedGpus += job.resources.gpus;
    }
    if (job.state === 'queued' || job.state === 'delayed' || job.state === 'blocked') waitingJobs++;
  }
  return {
    owner,
    queues: [...queues.keys()].sort().map((queue) => ({ queue, counts: queues.get(queue)! })),
    leasedJobs,
    leasedGpus,
    waitingJobs,
  };
}

async function expectExactCounts(store: Store, ids: string[], owners: string[]): Promise<void> {
  const jobs = (await Promise.all(ids.map((id) => store.getJob(id)))).filter((j): j is Job => j !== null);
  for (const owner of owners) expect(await store.ownerUsage(owner), owner).toEqual(usageFromJobs(owner, jobs));
}

const place = (jobId: string, agentId = 'a') => ({ jobId, agentId, gpus: [] });

describe('Redis owner counts', () => {
  it('keeps each owner’s counts exact through every transition, and leaves no key once the jobs are gone', async () => {
    const db = database();
    const store = await db.open();
    const owners = ['ann', 'bob'];
    try {
      const gpu = { ...DEFAULT_RESOURCES, gpus: 2 };
      const batch = [
        ...Array.from({ length: 6 }, (_, i) => newJob('ann', { queue: i % 2 ? 'q1' : 'q2', resources: gpu })),
        ...Array.from({ length: 4 }, () => newJob('bob')),
        newJob('bob', { runAt: db.clock.now + 1000 }),
      ];
      const ids = (await store.enqueue(batch)).map((r) => r.job.id);
      await expectExactCounts(store, ids, owners);

      const leases = await store.assign(
        ids.slice(0, 9).map((id) => place(id)),
        1000,
      );
      expect(leases).toHaveLength(9);
      await expectExactCounts(store, ids, owners);
      const lease = (n: number) => ({ jobId: ids[n]!, leaseToken: leases[n]!.leaseToken });

      await store.start([lease(0), lease(1), lease(6)], 1000);
      await store.heartbeat([lease(0)], 1000);
      await expectExactCounts(store, ids, owners);

      const error = { code: 'X', message: 'x', retryable: true };
      await store.complete([
        { ...lease(0), outcome: 'succeeded', result: 1 },
        { ...lease(1), outcome: 'failed', error },
        { ...lease(6), outcome: 'failed', error: { ...error, retryable: false } },
      ]);
      await store.release([{ ...lease(2), error }]);
      await store.cancel(ids[3]!);
      await store.cancel(ids[7]!);
      await expectExactCounts(store, ids, owners);

      db.clock.now += 5000;
      await store.expireLeases();
      await store.promoteDue();
      await expectExactCounts(store, ids, owners);

      await store.deleteFinished(db.clock.now + 1, 100);
      await expectExactCounts(store, ids, owners);
      for (const id of ids) {
        const job = await store.getJob(id);
        if (job && job.state !== 'cancelled' && job.state !== 'succeeded' && job.state !== 'failed')
          await store.cancel(id);
      }
      await store.deleteFinished(db.clock.now + 1, 100);
      expect(await store.ownerUsage('ann')).toEqual({
        owner: 'ann',
        queues: [],
        leasedJobs: 0,
        leasedGpus: 0,
        waitingJobs: 0,
      });
      expect(await redis.keys(`{${db.p}}:owner:*`)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('upgrades a version 2 store: each owner’s counts from their jobs, once, however many servers open it', async () => {
    const db = database();
    let store = await db.open();
    const gpu = { ...DEFAULT_RESOURCES, gpus: 3 };
    // More jobs than one upgrade page.
    const jobs = [
      ...Array.from({ length: 1200 }, (_, i) => newJob(`o${i % 3}`, { queue: `q${i % 4}`, resources: gpu })),
      newJob('late', { runAt: db.clock.now + 60_000 }),
    ];
    const ids = (await store.enqueue(jobs)).map((r) => r.job.id);
    const leases = await store.assign(
      ids.slice(0, 30).map((id) => place(id)),
      60_000,
    );
    await store.start(
      leases.slice(0, 10).map((l) => ({ jobId: l.job.id, leaseToken: l.leaseToken })),
      60_000,
    );
    await store.cancel(ids[40]!);
    const owners = ['o0', 'o1', 'o2', 'late', 'nobody'];
    const before = await Promise.all(owners.map((o) => store.ownerUsage(o)));
    await store.close();
    // What version 2 left: no owner counts (here made wrong, too, as a crashed upgrade might).
    const keys = await redis.keys(`{${db.p}}:owner:*`);
    await redis.del(...keys);
    await redis.hset(`{${db.p}}:owner:o0`, 'leased', '99');
    await redis.set(`{${db.p}}:schema`, '2');

    const stores = await Promise.all([db.open(), db.open(), db.open()]);
    store = stores[0]!;
    try {
      expect(await redis.get(`{${db.p}}:schema`)).toBe('5');
      expect(await redis.exists(`{${db.p}}:upgrading`)).toBe(0);
      expect(await Promise.all(owners.map((o) => store.ownerUsage(o)))).toEqual(before);
      expect(before[0]).toMatchObject({ leasedJobs: 10, leasedGpus: 30 });
      await expectExactCounts(store, ids, owners);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

describe('Redis quotas', () => {
  it('skips placements over the owner’s effective quota, counting earlier ones of the same call', async () => {
    const db = database();
    const store = await db.open();
    try {
      await store.createUser({ name: 'ann', role: 'user', weight: 1 });
      await store.createUser({ name: 'bob', role: 'user', weight: 1 });
      await store.setQuota(null, { maxRunningJobs: 2, maxGpus: null, maxQueuedJobs: null, submitRatePerSec: null });
      // Bob's own quota replaces the default whole: no job limit, 4 GPUs.
      await store.setQuota('bob', { maxRunningJobs: null, maxGpus: 4, maxQueuedJobs: null, submitRatePerSec: null });
      const gpu = { ...DEFAULT_RESOURCES, gpus: 3 };
      const ann = (await store.enqueue([newJob('ann'), newJob('ann'), newJob('ann')])).map((r) => r.job.id);
      const bob = (
        await store.enqueue([
          newJob('bob', { resources: gpu }),
          newJob('bob', { resources: gpu }),
          newJob('bob'),
          newJob('bob'),
        ])
      ).map((r) => r.job.id);
      const stranger = (await store.enqueue([newJob('x'), newJob('x'), newJob('x')])).map((r) => r.job.id);
      const all = [...ann, ...bob, ...stranger];
      const got = await store.assign(
        all.map((id) => place(id)),
        60_000,
      );
      expect(got.map((a) => a.job.id).sort()).toEqual(
        [ann[0], ann[1], bob[0], bob[2], bob[3], stranger[0], stranger[1]].sort(),
      );
      expect(await store.getJob(bob[1]!)).toMatchObject({ state: 'queued' });
      // A later call counts what is leased now; a finished job frees its room.
      expect(await store.assign([place(ann[2]!)], 60_000)).toEqual([]);
      const first = got.find((a) => a.job.id === ann[0])!;
      await store.complete([{ jobId: ann[0]!, leaseToken: first.leaseToken, outcome: 'succeeded', result: null }]);
      expect((await store.assign([place(ann[2]!)], 60_000)).map((a) => a.job.id)).toEqual([ann[2]]);
      // Removing Bob's own quota gives him the default: 3 leased already, over 2.
      await store.setQuota('bob', null);
      expect(await store.assign([place(bob[1]!)], 60_000)).toEqual([]);
      await store.setQuota(null, null);
      await store.setQuota('bob', null);
      expect(await redis.exists(`{${db.p}}:quotas`)).toBe(0);
      expect((await store.assign([place(bob[1]!)], 60_000)).map((a) => a.job.id)).toEqual([bob[1]]);
    } finally {
      await store.close();
    }
  });

  it('keeps users, tokens and quotas consistent: a deleted user takes their tokens and quota along', async () => {
    const db = database();
    const store = await db.open();
    try {
      await store.createUser({ name: 'ann', role: 'admin', weight: 2 });
      await expect(store.createUser({ name: 'ann', role: 'user', weight: 1 })).rejects.toMatchObject({
        code: 'USER_EXISTS',
        httpStatus: 409,
      });
      await expect(store.createToken({ id: 't0', user: 'nobody', hash: 'h' })).rejects.toMatchObject({
        code: 'USER_NOT_FOUND',
      });
      await store.createToken({ id: 't1', user: 'ann', hash: 'h1' });
      db.clock.now += 1;
      await store.createToken({ id: 't0', user: 'ann', hash: 'h0' });
      await expect(store.createToken({ id: 't1', user: 'ann', hash: 'x' })).rejects.toMatchObject({
        code: 'TOKEN_EXISTS',
      });
      expect((await store.listTokens('ann')).map((t) => t.id)).toEqual(['t1', 't0']);
      expect(await store.deleteToken('t1')).toMatchObject({ id: 't1', user: 'ann', hash: 'h1' });
      expect(await store.deleteToken('t1')).toBeNull();
      await expect(store.setQuota('nobody', null)).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
      await store.setQuota('ann', { maxRunningJobs: 1, maxGpus: null, maxQueuedJobs: 5, submitRatePerSec: 2 });
      expect(await store.getQuota('ann')).toEqual({
        maxRunningJobs: 1,
        maxGpus: null,
        maxQueuedJobs: 5,
        submitRatePerSec: 2,
      });
      expect(await store.getQuota(null)).toEqual({
        maxRunningJobs: null,
        maxGpus: null,
        maxQueuedJobs: null,
        submitRatePerSec: null,
      });
      expect(await store.deleteUser('ann')).toBe(true);
      expect(await store.deleteUser('ann')).toBe(false);
      expect(await store.getToken('t0')).toBeNull();
      expect(await store.listUsers()).toEqual([]);
      // Only the layout's version is left.
      expect(await redis.keys(`{${db.p}}:*`)).toEqual([`{${db.p}}:schema`]);
    } finally {
      await store.close();
    }
  });
});
