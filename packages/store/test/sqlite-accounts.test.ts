import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { BatonError, NewJob } from '@baton/core';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { Store } from '@baton/store';
import { NO_QUOTA, openStore } from '@baton/store';
import { MIGRATIONS } from '../src/sqlite/migrations.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-accounts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const newJob = (overrides: Partial<NewJob> = {}): NewJob => {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue: 'q',
    task: 't',
    owner: 'alice',
    payload: null,
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    maxAttempts: 1,
    backoffMs: 0,
    timeoutMs: null,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
    ...overrides,
  };
};

/** owner_counts as the triggers keep it, against a count of the jobs themselves. */
function expectCountsKept(path: string): void {
  const db = new Database(path, { readonly: true });
  try {
    const kept = db
      .prepare('SELECT owner, queue, state, n, gpus FROM owner_counts WHERE n > 0 ORDER BY owner, queue, state')
      .all();
    const counted = db
      .prepare(
        `SELECT owner, queue, state, COUNT(*) AS n, SUM(COALESCE(json_extract(resources, '$.gpus'), 0)) AS gpus
        FROM jobs GROUP BY owner, queue, state ORDER BY owner, queue, state`,
      )
      .all();
    expect(kept).toEqual(counted);
  } finally {
    db.close();
  }
}

async function rejection(promise: Promise<unknown>): Promise<BatonError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: BatonError) => err,
  );
}

describe('SQLite migration 6: owner counts', () => {
  it('counts the jobs and GPUs a version 5 database holds, then keeps counting', async () => {
    const path = join(dir, 'version-5.db');
    const now = Date.now();
    const raw = new Database(path);
    raw.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of MIGRATIONS.filter((m) => m.version <= 5)) {
      raw.exec(m.sql);
      raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const insert = raw.prepare(
      `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources,
        max_attempts, backoff_ms, run_at, created_at, updated_at, lease_token)
      VALUES (?, ?, 't', ?, 'null', ?, 1, 0, ?, 2, 0, ?, ?, ?, ?)`,
    );
    const rows: [string, string, string, string][] = [
      ['alice', 'q-a', 'queued', '{"slots":1}'],
      ['alice', 'q-a', 'running', '{"slots":1,"gpus":2}'],
      ['alice', 'q-b', 'assigned', '{"slots":1,"gpus":1}'],
      ['alice', 'q-b', 'delayed', '{"slots":1,"gpus":4}'],
      ['bob', 'q-a', 'succeeded', '{"slots":1}'], // written before migration 2: no gpus field
    ];
    for (const [owner, queue, state, resources] of rows) {
      const id = newJobId(now);
      insert.run(id, queue, owner, state, resources, now, now, now, state === 'running' ? `lease-${id}` : null);
    }
    raw.close();

    const store = await openStore(`sqlite:${path}`);
    try {
      const zero = {
        blocked: 0,
        delayed: 0,
        queued: 0,
        assigned: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
        skipped: 0,
      };
      expect(await store.ownerUsage('alice')).toEqual({
        owner: 'alice',
        queues: [
          { queue: 'q-a', counts: { ...zero, queued: 1, running: 1 } },
          { queue: 'q-b', counts: { ...zero, assigned: 1, delayed: 1 } },
        ],
        leasedJobs: 2,
        leasedGpus: 3,
        waitingJobs: 2,
      });
      expect(await store.ownerUsage('bob')).toMatchObject({
        leasedJobs: 0,
        waitingJobs: 0,
        queues: [{ queue: 'q-a' }],
      });
      expect(await store.ownerUsage('nobody')).toEqual({
        owner: 'nobody',
        queues: [],
        leasedJobs: 0,
        leasedGpus: 0,
        waitingJobs: 0,
      });
      await keepCounting(store);
    } finally {
      await store.close();
    }
    expectCountsKept(path);
  });
});

/** Every transition that moves a job between states, queues' and owners' counts alike. */
async function keepCounting(store: Store): Promise<void> {
  const gpuJob = newJob({ resources: { ...DEFAULT_RESOURCES, gpus: 3 } });
  const plain = newJob({ owner: 'carol' });
  const cancelled = newJob({ owner: 'carol' });
  await store.enqueue([gpuJob, plain, cancelled]);
  const [a, b] = await store.assign(
    [
      { jobId: gpuJob.id, agentId: 'x', gpus: [0, 1, 2] },
      { jobId: plain.id, agentId: 'x', gpus: [] },
    ],
    60_000,
  );
  expect((await store.ownerUsage('alice')).leasedGpus).toBe(6);
  await store.start([{ jobId: a!.job.id, leaseToken: a!.leaseToken }], 60_000);
  await store.complete([{ jobId: b!.job.id, leaseToken: b!.leaseToken, outcome: 'succeeded', result: null }]);
  await store.cancel(cancelled.id);
  await store.release([
    { jobId: a!.job.id, leaseToken: a!.leaseToken, error: { code: 'GPU', message: 'lost', retryable: true } },
  ]);
  expect(await store.ownerUsage('alice')).toMatchObject({ leasedJobs: 2, leasedGpus: 3, waitingJobs: 2 });
  expect(await store.deleteFinished(Date.now() + 1, 100)).toEqual({ deleted: 3 });
}

describe('SQLite accounts', () => {
  it('deletes a user with their tokens and quota, and keeps tokens of known users only', async () => {
    const store = await openStore('sqlite::memory:', { clock: () => 1000 });
    try {
      expect(await store.getQuota(null)).toEqual(NO_QUOTA);
      await store.createUser({ name: 'alice', role: 'admin', weight: 2.5 });
      expect((await rejection(store.createUser({ name: 'alice', role: 'user', weight: 1 }))).code).toBe('USER_EXISTS');
      await store.createToken({ id: 't2', user: 'alice', hash: 'h2' });
      await store.createToken({ id: 't1', user: 'alice', hash: 'h1' });
      // Created in the same millisecond: in creation order.
      expect((await store.listTokens('alice')).map((t) => t.id)).toEqual(['t2', 't1']);
      expect((await rejection(store.createToken({ id: 't1', user: 'alice', hash: 'x' }))).code).toBe('TOKEN_EXISTS');
      expect((await rejection(store.createToken({ id: 't3', user: 'bob', hash: 'x' }))).code).toBe('USER_NOT_FOUND');
      const quota = { ...NO_QUOTA, maxRunningJobs: 3, submitRatePerSec: 0.5 };
      await store.setQuota('alice', quota);
      expect(await store.getQuota('alice')).toEqual(quota);
      expect(await store.getUser('alice')).toEqual({ name: 'alice', role: 'admin', weight: 2.5, createdAt: 1000 });

      expect(await store.deleteUser('alice')).toBe(true);
      expect(await store.deleteUser('alice')).toBe(false);
      expect(await store.getToken('t1')).toBeNull();
      expect(await store.listTokens('alice')).toEqual([]);
      await store.createUser({ name: 'alice', role: 'user', weight: 1 });
      // The old quota went with the old account.
      expect(await store.getQuota('alice')).toBeNull();
      expect((await rejection(store.setQuota('bob', quota))).code).toBe('USER_NOT_FOUND');
    } finally {
      await store.close();
    }
  });
});
