import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { BatonError, DEFAULT_RESOURCES, StoreUnavailableError, newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { RetentionSweeper, createBatonServer, resolveServerOptions } from '@baton/server';
import type { BatonServer, RetentionOptions } from '@baton/server';

/**
 * The retention sweeper of a real server: it deletes finished jobs past their state's
 * retention, keeps the rest, and sweeps once per fleet however many servers share the store.
 */

const PG = process.env.BATON_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
const SCHEMA = `baton_test_${randomBytes(5).toString('hex')}`;
const REDIS_PREFIX = `baton-test-${randomBytes(5).toString('hex')}`;

/** Each test opens stores on a schema or prefix of its own, so its counts are exact. */
let fresh = 0;
const schemas: string[] = [];

afterAll(async () => {
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  try {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${REDIS_PREFIX}-*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
});

/** [name, a fresh place: opens a store on it (again, for a second server)]. */
const STORES: [string, () => () => Promise<Store>][] = [
  ['sqlite', () => () => openStore('sqlite::memory:')],
  [
    'postgres',
    () => {
      const schema = `${SCHEMA}_${fresh++}`;
      schemas.push(schema);
      return () => openStore(`${PG}${PG.includes('?') ? '&' : '?'}schema=${schema}&application_name=${schema}`);
    },
  ],
  [
    'redis',
    () => {
      const prefix = `${REDIS_PREFIX}-${fresh++}`;
      return () => openStore(`redis://127.0.0.1:6379?prefix=${prefix}`);
    },
  ],
];
const SHARED_STORES = STORES.filter(([name]) => name !== 'sqlite');

const HOUR_MS = 3_600_000;

function job(queue: string): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue,
    task: 'demo.sleep',
    owner: 'local',
    payload: {},
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
  };
}

/** `n` jobs of each final state, and one still queued, on a queue of their own. */
async function finishedJobs(store: Store, n: number) {
  const queue = `q-${randomBytes(4).toString('hex')}`;
  const ids = { succeeded: [] as string[], failed: [] as string[], cancelled: [] as string[], queued: [] as string[] };
  const created = await store.enqueue(Array.from({ length: 3 * n + 1 }, () => job(queue)));
  const all = created.map((r) => r.job.id);
  ids.queued = all.splice(0, 1);
  ids.cancelled = all.splice(0, n);
  for (const id of ids.cancelled) await store.cancel(id);
  const leased = await store.assign(
    all.map((jobId) => ({ jobId, agentId: 'agent-test', gpus: [] })),
    60_000,
  );
  const results = await store.complete(
    leased.map((a, i) =>
      i < n
        ? { jobId: a.job.id, leaseToken: a.leaseToken, outcome: 'succeeded' as const, result: null }
        : {
            jobId: a.job.id,
            leaseToken: a.leaseToken,
            outcome: 'failed' as const,
            error: { code: 'TASK_FAILED', message: 'no', retryable: false },
          },
    ),
  );
  expect(results.every((r) => r.ok)).toBe(true);
  ids.succeeded = leased.slice(0, n).map((a) => a.job.id);
  ids.failed = leased.slice(n).map((a) => a.job.id);
  return { queue, ids };
}

async function present(store: Store, ids: string[]): Promise<number> {
  return (await Promise.all(ids.map((id) => store.getJob(id)))).filter((j) => j !== null).length;
}

/** Polls `probe` until it holds, at most `timeoutMs`. */
async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function server(store: Store, retention: Partial<RetentionOptions>): BatonServer {
  return createBatonServer(store, { maxSweepMs: 200, shardLeaseMs: 500, retention });
}

describe('retention options', () => {
  it('defaults to 7 days for succeeded and cancelled jobs, 30 for failed, swept every minute', () => {
    expect(resolveServerOptions().retention).toEqual({
      succeededMs: 7 * 24 * HOUR_MS,
      failedMs: 30 * 24 * HOUR_MS,
      cancelledMs: 7 * 24 * HOUR_MS,
      sweepIntervalMs: 60_000,
    });
  });

  it('refuses a negative or fractional retention and a tiny interval, naming the field', () => {
    for (const [retention, field] of [
      [{ succeededMs: -1 }, 'retention.succeededMs'],
      [{ failedMs: 1.5 }, 'retention.failedMs'],
      [{ cancelledMs: Number.NaN }, 'retention.cancelledMs'],
      [{ sweepIntervalMs: 1 }, 'retention.sweepIntervalMs'],
    ] as const) {
      let error: unknown;
      try {
        resolveServerOptions({ retention });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(BatonError);
      expect((error as BatonError).code).toBe('INVALID_OPTION');
      expect((error as Error).message).toContain(field);
    }
  });
});

describe('retention sweeper errors', () => {
  it('logs a failing store, never rejects, and tries again on the next run', async () => {
    const errors = [new StoreUnavailableError(), new Error('disk on fire')];
    let calls = 0;
    const store = {
      deleteFinished: async () => {
        throw errors[calls++ % errors.length];
      },
    } as unknown as Store;
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const sweeper = new RetentionSweeper(store, {
      retention: resolveServerOptions({ retention: { sweepIntervalMs: 10 } }).retention,
      isSweeper: () => true,
      logger,
    });
    expect(await sweeper.sweep()).toBe(0);
    expect(await sweeper.sweep()).toBe(0);
    expect(lines.filter((l) => l.includes('the store is unavailable'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('retention run failed') && l.includes('disk on fire'))).toHaveLength(1);
    // On its timer too: the runs go on after failures, with nothing unhandled.
    sweeper.start();
    await until('more runs', () => calls >= 6);
    await sweeper.stop();
    // Every run made one call and logged its failure, whichever error it met.
    expect(sweeper.stats.runs).toBe(calls);
    const logged = lines.filter((l) => l.includes('the store is unavailable') || l.includes('disk on fire'));
    expect(logged).toHaveLength(calls);
  });
});

describe.each(STORES)('retention sweeper (%s)', (_name, place) => {
  it("deletes the finished jobs past their state's retention and keeps the others", async () => {
    const store = await place()();
    // Succeeded: 1 s; cancelled: an hour (not yet due); failed: forever.
    const s = server(store, { succeededMs: 1000, cancelledMs: HOUR_MS, failedMs: 0, sweepIntervalMs: 100 });
    try {
      await s.listen(0);
      const { queue, ids } = await finishedJobs(store, 5);
      await until('the succeeded jobs to be deleted', async () => (await present(store, ids.succeeded)) === 0);
      // A few more runs after: they keep what they kept.
      const runs = s.retention.stats.runs;
      await until('two more sweeps', () => s.retention.stats.runs >= runs + 2);
      expect(await present(store, ids.failed)).toBe(5);
      expect(await present(store, ids.cancelled)).toBe(5);
      expect(await present(store, ids.queued)).toBe(1);
      expect(s.retention.stats.deleted).toBe(5);
      const counts = (await store.queueStats()).find((q) => q.queue === queue)?.counts;
      expect(counts).toMatchObject({ succeeded: 0, failed: 5, cancelled: 5, queued: 1 });
    } finally {
      await s.close();
      await store.close();
    }
  });

  it('keeps every finished job when each retention is 0', async () => {
    const store = await place()();
    const s = server(store, { succeededMs: 0, failedMs: 0, cancelledMs: 0, sweepIntervalMs: 100 });
    try {
      await s.listen(0);
      const { ids } = await finishedJobs(store, 3);
      expect(s.retention.enabled).toBe(false);
      // A run asked for by hand (no timer runs) deletes nothing either.
      expect(await s.retention.sweep()).toBe(0);
      expect(await store.deleteFinished(Date.now() + 1, 0)).toEqual({ deleted: 0 });
      for (const state of ['succeeded', 'failed', 'cancelled'] as const) {
        expect(await present(store, ids[state])).toBe(3);
      }
    } finally {
      await s.close();
      await store.close();
    }
  });
});

describe.each(SHARED_STORES)('retention with two servers on one store (%s)', (_name, place) => {
  it('sweeps on one server only: the one holding scheduler shard 0', async () => {
    const open = place();
    const [storeA, storeB] = [await open(), await open()];
    const retention = { succeededMs: 1000, failedMs: 1000, cancelledMs: 1000, sweepIntervalMs: 100 };
    const logs: Record<string, string[]> = { a: [], b: [] };
    const logger = (name: 'a' | 'b') =>
      pino({ level: 'info' }, { write: (line: string) => void logs[name]!.push(line) });
    const a = createBatonServer(storeA, { maxSweepMs: 200, shardLeaseMs: 500, retention, logger: logger('a') });
    const b = createBatonServer(storeB, { maxSweepMs: 200, shardLeaseMs: 500, retention, logger: logger('b') });
    try {
      await a.listen(0);
      await b.listen(0);
      // Both schedulers hold shards: shard 0 is one's, and stays there while both live.
      await until('both servers to hold shards', async () => {
        const owners = new Set((await storeA.shardLeases()).map((l) => l.owner));
        return owners.has(a.serverId) && owners.has(b.serverId);
      });
      const holder = (await storeA.shardLeases()).find((l) => l.shard === 0)?.owner;
      const [sweeper, other] = holder === a.serverId ? [a, b] : [b, a];
      await until('the shard keepers to see it', () => other.retention.stats.skipped > 0);
      const before = { sweeper: { ...sweeper.retention.stats }, other: { ...other.retention.stats } };

      const { ids } = await finishedJobs(storeA, 4);
      const all = [...ids.succeeded, ...ids.failed, ...ids.cancelled];
      await until('the finished jobs to be deleted', async () => (await present(storeA, all)) === 0);
      await until(
        'the other server to skip twice more',
        () => other.retention.stats.skipped >= before.other.skipped + 2,
      );

      expect(await present(storeA, ids.queued)).toBe(1);
      expect(sweeper.retention.stats.runs).toBeGreaterThan(before.sweeper.runs);
      expect(sweeper.retention.stats.deleted - before.sweeper.deleted).toBe(12);
      expect(other.retention.stats.runs).toBe(before.other.runs);
      expect(other.retention.stats.deleted).toBe(0);
      const deletedLines = (name: 'a' | 'b') => logs[name]!.filter((l) => l.includes('retention deleted')).length;
      expect(deletedLines(sweeper === a ? 'b' : 'a')).toBe(0);
      expect(deletedLines(sweeper === a ? 'a' : 'b')).toBeGreaterThan(0);
    } finally {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
    }
  });
});
