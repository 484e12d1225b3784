import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonError, DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import type { ThrowawayServer } from './throwaway-servers.js';
import { throwawayPostgres, throwawayRedis } from './throwaway-servers.js';

/**
 * A store whose server goes down reports every call's failure as STORE_UNAVAILABLE (a
 * retryable BatonError with HTTP status 503), promptly, on every backend that has a server;
 * when the server is back the same store (never reopened) works again. SQLite's counterpart
 * is a database another process keeps locked past busy_timeout.
 */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function newJob(queue: string): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue,
    task: 't',
    owner: 'outage',
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
  };
}

async function unavailable(call: Promise<unknown>): Promise<BatonError> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BatonError);
  const e = err as BatonError;
  expect({ code: e.code, httpStatus: e.httpStatus, retryable: e.retryable }).toEqual({
    code: 'STORE_UNAVAILABLE',
    httpStatus: 503,
    retryable: true,
  });
  return e;
}

/** Retries until the store answers again (it reconnects by itself). */
async function answersAgain(store: Store): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await store.ping();
      return;
    } catch (err) {
      if (i > 400) throw err;
      await sleep(25);
    }
  }
}

const backends: [string, () => Promise<ThrowawayServer>][] = [
  ['postgres', throwawayPostgres],
  ['redis', throwawayRedis],
];

describe.each(backends)('%s store while its server is down', (_name, start) => {
  let server: ThrowawayServer;
  let store: Store;
  beforeAll(async () => {
    server = await start();
    store = await openStore(server.storeUrl(`outage_${randomBytes(4).toString('hex')}`));
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await server?.dispose();
  });

  it('answers STORE_UNAVAILABLE for every kind of call, then works again after a restart', async () => {
    const queue = `q${randomBytes(3).toString('hex')}`;
    const [first] = await store.enqueue([newJob(queue)]);
    expect(first!.created).toBe(true);

    await server.stop();
    const err = await unavailable(store.enqueue([newJob(queue)]));
    // The client's message names neither the backend nor its address; the driver's is the cause.
    expect(err.message).not.toMatch(/127\.0\.0\.1|postgres|redis/i);
    expect(err.cause).toBeDefined();
    await unavailable(store.getJob(first!.job.id));
    await unavailable(store.listJobs({ limit: 10 }));
    await unavailable(store.getLogs(first!.job.id));
    await unavailable(store.taskRoutes());
    await unavailable(store.pending([{ queue, limit: 10 }]));
    await unavailable(store.heartbeatScheduler('s1', 5000));
    await unavailable(store.ping());

    await server.start();
    await answersAgain(store);
    expect((await store.getJob(first!.job.id))?.id).toBe(first!.job.id);
    const [again] = await store.enqueue([newJob(queue)]);
    expect(again!.created).toBe(true);
  });
});

describe('sqlite store whose database another process holds locked', () => {
  it('answers STORE_UNAVAILABLE once busy_timeout has passed, and works when the lock is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-busy-'));
    const file = join(dir, 'baton.db');
    const store = await openStore(`sqlite:${file}`);
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      await unavailable(store.enqueue([newJob('busy')]));
      other.exec('ROLLBACK');
      const [created] = await store.enqueue([newJob('busy')]);
      expect(created!.created).toBe(true);
    } finally {
      other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
