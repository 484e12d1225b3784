import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';

/**
 * A job stored with a time no JavaScript Date can hold (by an older Baton that took any runAt
 * up to 2^53, or written straight into the store) must still list, read and cancel.
 */

const PG = process.env.BATON_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
const SCHEMA = `baton_test_${randomBytes(5).toString('hex')}`;
const REDIS_PREFIX = `baton-test-${randomBytes(5).toString('hex')}`;

afterAll(async () => {
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  } finally {
    await admin.end();
  }
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${REDIS_PREFIX}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
});

const STORES: [string, () => Promise<Store>][] = [
  ['sqlite', () => openStore('sqlite::memory:')],
  ['postgres', () => openStore(`${PG}${PG.includes('?') ? '&' : '?'}schema=${SCHEMA}&application_name=${SCHEMA}`)],
  ['redis', () => openStore(`redis://127.0.0.1:6379?prefix=${REDIS_PREFIX}`)],
];

function job(runAt: number, queue: string): NewJob {
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
    maxAttempts: 3,
    backoffMs: 0,
    timeoutMs: null,
    runAt,
    idempotencyKey: null,
    createdAt: now,
  };
}

describe.each(STORES)('stored times out of the Date range (%s)', (_name, open) => {
  it('lists, reads and cancels a job stored with runAt 2^53, answering no 5xx', async () => {
    const store = await open();
    const server = createBatonServer(store, { insecureNoAuth: true, maxSweepMs: 200 });
    try {
      const url = await server.listen(0);
      const queue = `q-${randomBytes(4).toString('hex')}`;
      const get = async (path: string) => {
        const res = await fetch(url + path);
        return { status: res.status, body: (await res.json()) as any };
      };
      const [stored] = await store.enqueue([job(2 ** 53, queue)]);
      const id = stored!.job.id;
      expect(stored!.job.state).toBe('delayed');

      for (const path of [`/api/jobs?queue=${queue}`, `/api/jobs?queue=${queue}&state=delayed`]) {
        const list = await get(path);
        expect(list.status).toBe(200);
        expect(list.body.jobs.map((j: { id: string }) => j.id)).toEqual([id]);
        // Clamped to the last instant a Date holds: the job runs, in effect, never.
        expect(list.body.jobs[0].runAt).toBe('+275760-09-13T00:00:00.000Z');
      }
      const one = await get(`/api/jobs/${id}`);
      expect(one.status).toBe(200);
      expect(one.body.runAt).toBe('+275760-09-13T00:00:00.000Z');
      expect(one.body.createdAt).toBe(new Date(stored!.job.createdAt).toISOString());

      const cancel = await fetch(`${url}/api/jobs/${id}/cancel`, { method: 'POST' });
      expect(cancel.status).toBe(200);
      expect(((await cancel.json()) as any).state).toBe('cancelled');
      const cancelled = await get(`/api/jobs?queue=${queue}&state=cancelled`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.jobs.map((j: { id: string }) => j.id)).toEqual([id]);
    } finally {
      await server.close();
      await store.close();
    }
  });

  it('refuses an idempotency key with control characters before the store sees it', async () => {
    const store = await open();
    await store.registerTasks([{ task: 'demo.sleep', queue: 'default' }]);
    const server = createBatonServer(store, { insecureNoAuth: true, scheduler: false });
    try {
      const url = await server.listen(0);
      for (const idempotencyKey of ['nul\u0000key', 'esc\u001b[2J']) {
        const res = await fetch(`${url}/api/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ task: 'demo.sleep', idempotencyKey }),
        });
        expect(res.status).toBe(400);
        expect(((await res.json()) as any).error.message).toMatch(/idempotencyKey must not hold control characters/);
      }
    } finally {
      await server.close();
      await store.close();
    }
  });
});
