import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NewJob } from '@baton/core';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import { copyJobs, openStore } from '@baton/store';
import { startBaton } from './fleet.js';
import { networkedStores } from './networked-stores.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-copy-'));
const TARGETS = networkedStores('copy');
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const t of TARGETS) t.cleanup();
});

const newJob = (overrides: Partial<NewJob> = {}): NewJob => {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue: 'copyq',
    task: 'copy.task',
    owner: 'alice',
    payload: { n: 1 },
    priority: 'high',
    priorityLevel: 3,
    resources: { ...DEFAULT_RESOURCES, gpus: 2 },
    constraints: { tags: ['region:eu'] },
    maxAttempts: 4,
    backoffMs: 100,
    timeoutMs: 60_000,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
    ...overrides,
  };
};

async function copy(from: string, to: string) {
  const p = startBaton(['store', 'copy', '--from', from, '--to', to]);
  const { code } = await p.exited;
  return { code, output: p.output() };
}

describe.each(TARGETS)('baton store copy from SQLite to $name', ({ url: target }) => {
  it('copies every job and the routes, keeping ids, fields, attempts and idempotency keys; a second run copies nothing', async () => {
    const source = `sqlite:${join(dir, `source-${target.split(':')[0]}.db`)}`;
    const store = await openStore(source);
    const queued = newJob({ idempotencyKey: 'keep-me' });
    const delayed = newJob({ runAt: Date.now() + 3_600_000 });
    const leased = newJob();
    const done = newJob({ idempotencyKey: 'done-key' });
    const retried = newJob({ idempotencyKey: 'retried-key' });
    const gone = newJob({ idempotencyKey: 'cancelled-key' });
    await store.enqueue([queued, delayed, leased, done, retried, gone]);
    await store.registerTasks([{ task: 'copy.task', queue: 'copyq' }]);
    // An expiring route keeps the time it has left; an expired one stays behind.
    await store.registerTasks([{ task: 'copy.task', queue: 'expiring' }], 3_600_000);
    await store.registerTasks([{ task: 'copy.task', queue: 'expired' }], 1);
    const expiresAt = (await store.taskRoutes()).find((r) => r.queue === 'expiring')!.expiresAt!;
    // Two failed attempts: back in the queue with attempts 2.
    for (const code of ['OOM', 'FLAKY']) {
      const [a] = await store.assign([{ jobId: retried.id, agentId: `agent-${code}`, gpus: [4, 5] }], 60_000);
      await store.release([
        { jobId: retried.id, leaseToken: a!.leaseToken, error: { code, message: code, retryable: true } },
      ]);
    }
    await store.cancel(gone.id);
    const assigned = await store.assign(
      [
        { jobId: leased.id, agentId: 'old-agent', gpus: [0, 1] },
        { jobId: done.id, agentId: 'old-agent', gpus: [2, 3] },
      ],
      60_000,
    );
    const finished = assigned.find((a) => a.job.id === done.id)!;
    await store.complete([{ jobId: done.id, leaseToken: finished.leaseToken, outcome: 'succeeded', result: 1 }]);
    await store.close();

    const first = await copy(source, target);
    expect(first.code).toBe(0);
    expect(first.output).toMatch(/delayed: 1 read, 1 copied/);
    expect(first.output).toMatch(/queued: 2 read, 2 copied/);
    expect(first.output).toMatch(/assigned: 1 read, 1 copied/);
    expect(first.output).toMatch(/succeeded: 1 read, 1 copied/);
    expect(first.output).toMatch(/cancelled: 1 read, 1 copied/);
    expect(first.output).toMatch(/done: 6 job\(s\) copied, 0 already there, 2 task route\(s\)/);

    const copied = await openStore(target);
    try {
      // Attempts are kept: a failing job gets no fresh retries from the move.
      expect(await copied.getJob(retried.id)).toMatchObject({
        state: 'queued',
        attempts: 2,
        maxAttempts: 4,
        error: { code: 'FLAKY' },
      });
      expect((await copied.getAttempts(retried.id)).map((a) => [a.agentId, a.error?.code])).toEqual([
        ['agent-OOM', 'OOM'],
        ['agent-FLAKY', 'FLAKY'],
      ]);
      // Finished jobs come too, with their outcome, attempts and idempotency keys.
      expect(await copied.getJob(done.id)).toMatchObject({ state: 'succeeded', result: 1, attempts: 1 });
      expect(await copied.getJob(gone.id)).toMatchObject({ state: 'cancelled', attempts: 0 });
      for (const [key, job] of [
        ['done-key', done],
        ['retried-key', retried],
        ['cancelled-key', gone],
      ] as const) {
        const [again] = await copied.enqueue([newJob({ idempotencyKey: key })]);
        expect(again).toMatchObject({ created: false, job: { id: job.id } });
      }
      expect(await copied.getJob(queued.id)).toMatchObject({
        state: 'queued',
        owner: 'alice',
        priority: 'high',
        priorityLevel: 3,
        resources: { gpus: 2 },
        constraints: { tags: ['region:eu'] },
        idempotencyKey: 'keep-me',
        attempts: 0,
      });
      expect(await copied.getJob(delayed.id)).toMatchObject({ state: 'delayed', runAt: delayed.runAt });
      // A job the old agents held runs again, its cut-short attempt counted as a lost lease
      // would count it: stop the old servers before copying.
      expect(await copied.getJob(leased.id)).toMatchObject({
        state: 'queued',
        attempts: 1,
        agentId: null,
        error: { code: 'STORE_COPIED', retryable: true },
      });
      expect(await copied.taskRoutes()).toEqual([
        { task: 'copy.task', queue: 'copyq', expiresAt: null },
        { task: 'copy.task', queue: 'expiring', expiresAt: expect.any(Number) },
      ]);
      const kept = (await copied.taskRoutes()).find((r) => r.queue === 'expiring')!.expiresAt!;
      // The same expiry, give or take the copy's rounding and the two stores' clocks.
      expect(Math.abs(kept - expiresAt)).toBeLessThan(5_000);
      // The idempotency key still finds the copied job.
      const [again] = await copied.enqueue([newJob({ idempotencyKey: 'keep-me' })]);
      expect(again).toMatchObject({ created: false, job: { id: queued.id } });
    } finally {
      await copied.close();
    }

    const second = await copy(source, target);
    expect(second.code).toBe(0);
    expect(second.output).toMatch(/done: 0 job\(s\) copied, 6 already there/);
  });
});

describe('copyJobs', () => {
  it('leaves failed, retrying and interrupted jobs as they were, attempts counted', async () => {
    const from = await openStore('sqlite::memory:');
    const to = await openStore('sqlite::memory:');
    try {
      const failed = newJob({ idempotencyKey: 'failed-key' });
      const retrying = newJob({ backoffMs: 3_600_000 });
      const lastTry = newJob({ maxAttempts: 1 });
      await from.enqueue([failed, retrying, lastTry]);
      const assigned = await from.assign(
        [failed, retrying, lastTry].map((j) => ({ jobId: j.id, agentId: 'old', gpus: [0, 1] })),
        60_000,
      );
      const lease = (id: string) => assigned.find((a) => a.job.id === id)!.leaseToken;
      await from.complete([
        {
          jobId: failed.id,
          leaseToken: lease(failed.id),
          outcome: 'failed',
          error: { code: 'BAD', message: 'bad', retryable: false },
        },
        {
          jobId: retrying.id,
          leaseToken: lease(retrying.id),
          outcome: 'failed',
          error: { code: 'AGAIN', message: 'again', retryable: true },
        },
      ]);
      expect(await from.getJob(retrying.id)).toMatchObject({ state: 'delayed', attempts: 1 });

      const result = await copyJobs(from, to);
      expect(result).toMatchObject({ read: 3, copied: 3, skipped: 0 });
      expect(await to.getJob(failed.id)).toMatchObject({
        state: 'failed',
        attempts: 1,
        error: { code: 'BAD', retryable: false },
      });
      expect((await to.enqueue([newJob({ idempotencyKey: 'failed-key' })]))[0]).toMatchObject({
        created: false,
        job: { id: failed.id },
      });
      // Waiting out its backoff again, from the copy on.
      const copiedRetry = await to.getJob(retrying.id);
      expect(copiedRetry).toMatchObject({ state: 'delayed', attempts: 1, error: { code: 'AGAIN' } });
      expect(copiedRetry!.runAt).toBeGreaterThan(Date.now() + 1_700_000); // half the backoff at least
      // Held on its last attempt: the cut-short attempt counts, as a lost lease's would.
      expect(await to.getJob(lastTry.id)).toMatchObject({
        state: 'failed',
        attempts: 1,
        error: { code: 'STORE_COPIED' },
      });
      expect(await copyJobs(from, to)).toMatchObject({ copied: 0, skipped: 3 });
    } finally {
      await Promise.all([from.close(), to.close()]);
    }
  });
});

describe('copyJobs: accounts', () => {
  it('copies users, tokens and quotas, leaving those the target has alone', async () => {
    const from = await openStore('sqlite::memory:');
    const to = await openStore('sqlite::memory:');
    try {
      await from.createUser({ name: 'alice', role: 'admin', weight: 2 });
      await from.createUser({ name: 'bob', role: 'user', weight: 1 });
      await from.createToken({ id: 'ta1', user: 'alice', hash: 'hash-a1' });
      await from.createToken({ id: 'ta2', user: 'alice', hash: 'hash-a2' });
      await from.createToken({ id: 'tb1', user: 'bob', hash: 'hash-b1' });
      const fallback = { maxRunningJobs: 1, maxGpus: null, maxQueuedJobs: 100, submitRatePerSec: null };
      const alices = { maxRunningJobs: null, maxGpus: 4, maxQueuedJobs: null, submitRatePerSec: 2 };
      // Bob's two finished jobs are replayed in the target in one assign: over the default quota,
      // had it been copied first.
      const jobs = [newJob({ owner: 'bob' }), newJob({ owner: 'bob' })];
      await from.enqueue(jobs);
      const assigned = await from.assign(
        jobs.map((j) => ({ jobId: j.id, agentId: 'old', gpus: [0, 1] })),
        60_000,
      );
      await from.complete(assigned.map((a) => ({ ...a, jobId: a.job.id, outcome: 'succeeded', result: 1 })));
      await from.setQuota(null, fallback);
      await from.setQuota('alice', alices);
      // The target has a bob, with a token of the same id, already.
      await to.createUser({ name: 'bob', role: 'admin', weight: 3 });
      await to.createToken({ id: 'tb1', user: 'bob', hash: 'hash-kept' });

      expect(await copyJobs(from, to)).toMatchObject({ copied: 2, users: 1, tokens: 2, quotas: 2 });
      expect(await Promise.all(jobs.map((j) => to.getJob(j.id)))).toEqual([
        expect.objectContaining({ state: 'succeeded' }),
        expect.objectContaining({ state: 'succeeded' }),
      ]);
      expect(await to.listUsers()).toEqual([
        expect.objectContaining({ name: 'alice', role: 'admin', weight: 2 }),
        expect.objectContaining({ name: 'bob', role: 'admin', weight: 3 }),
      ]);
      expect((await to.listTokens('alice')).map((t) => [t.id, t.hash])).toEqual([
        ['ta1', 'hash-a1'],
        ['ta2', 'hash-a2'],
      ]);
      expect(await to.getToken('tb1')).toMatchObject({ user: 'bob', hash: 'hash-kept' });
      expect(await to.getQuota(null)).toEqual(fallback);
      expect(await to.getQuota('alice')).toEqual(alices);
      expect(await to.getQuota('bob')).toBeNull();

      expect(await copyJobs(from, to)).toMatchObject({ copied: 0, users: 0, tokens: 0, quotas: 0 });
    } finally {
      await Promise.all([from.close(), to.close()]);
    }
  });
});

describe('baton store copy errors', () => {
  it('refuses the same store twice (exit 2) and names a store it cannot open (exit 1)', async () => {
    const same = await copy('sqlite::memory:', 'sqlite::memory:');
    expect(same.code).toBe(2);
    expect(same.output).toMatch(/--from and --to name the same store/);
    const bad = await copy(`sqlite:${join(dir, 'x.db')}`, 'mysql://nowhere');
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/--to: cannot open store mysql:\/\/nowhere: .*not available/);
  });
});
