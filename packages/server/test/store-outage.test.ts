import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import type { ThrowawayServer } from '../../store/test/throwaway-servers.js';
import { throwawayPostgres, throwawayRedis } from '../../store/test/throwaway-servers.js';

/**
 * The API while its store's server is down: every endpoint that reads or writes the store
 * answers 503 STORE_UNAVAILABLE with a Retry-After header (not 500 INTERNAL, not a hang), the
 * process keeps serving, and once the database is back the same server and store work again.
 * Real PostgreSQL and Redis servers on free ports, stopped and started mid-test.
 */
const TASK = 'outage.task';

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

async function call(url: string, method: 'GET' | 'POST', body?: unknown): Promise<Answer> {
  const response = await fetch(url, {
    method,
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: text ? (JSON.parse(text) as Answer['body']) : {},
  };
}

function expectUnavailable(answer: Answer): void {
  expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status: 503, code: 'STORE_UNAVAILABLE' });
  const seconds = Number(answer.retryAfter);
  expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= 5).toBe(true);
  // Nothing about the database's address or kind reaches the client.
  expect(answer.body.error?.message).not.toMatch(/127\.0\.0\.1|postgres|redis|ECONN/i);
}

const backends: [string, () => Promise<ThrowawayServer>][] = [
  ['postgres', throwawayPostgres],
  ['redis', throwawayRedis],
];

describe.each(backends)('the API on a %s store that goes down', (_name, start) => {
  let db: ThrowawayServer;
  let store: Store;
  let server: BatonServer;
  let url: string;
  beforeAll(async () => {
    db = await start();
    store = await openStore(db.storeUrl(`outage_${randomBytes(4).toString('hex')}`));
    await store.registerTasks([{ task: TASK, queue: 'default' }]);
    server = createBatonServer(store, { insecureNoAuth: true, maxSweepMs: 100 });
    url = await server.listen(0);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await store?.close();
    await db?.dispose();
  });

  it('answers 503 STORE_UNAVAILABLE with Retry-After while down, and serves again after a restart', async () => {
    const submitted = await call(`${url}/api/jobs`, 'POST', { task: TASK, payload: { n: 1 } });
    expect(submitted.status).toBe(201);
    const id = submitted.body.id as string;

    await db.stop();
    expectUnavailable(await call(`${url}/api/jobs`, 'POST', { task: TASK, payload: { n: 2 } }));
    expectUnavailable(
      await call(`${url}/api/jobs/bulk`, 'POST', { jobs: [{ task: TASK }, { task: TASK, payload: { n: 3 } }] }),
    );
    expectUnavailable(await call(`${url}/api/jobs/${id}`, 'GET'));
    expectUnavailable(await call(`${url}/api/jobs?limit=5`, 'GET'));
    expectUnavailable(await call(`${url}/api/jobs/${id}/logs?format=json`, 'GET'));
    expectUnavailable(await call(`${url}/api/jobs/${id}/cancel`, 'POST'));
    expectUnavailable(await call(`${url}/api/queues`, 'GET'));
    expectUnavailable(await call(`${url}/api/tasks`, 'GET'));
    expectUnavailable(await call(`${url}/api/agents`, 'GET'));
    expectUnavailable(await call(`${url}/api/capacity`, 'GET'));
    expectUnavailable(await call(`${url}/api/shards`, 'GET'));
    // The process is up and says so; readiness names the store.
    expect((await call(`${url}/healthz`, 'GET')).status).toBe(200);
    expect((await call(`${url}/readyz`, 'GET')).status).toBe(503);

    await db.start();
    let again: Answer;
    for (let i = 0; ; i++) {
      again = await call(`${url}/api/jobs`, 'POST', { task: TASK, payload: { n: 4 } });
      if (again.status !== 503 || i > 400) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(again.status).toBe(201);
    const job = await call(`${url}/api/jobs/${id}`, 'GET');
    expect({ status: job.status, id: job.body.id }).toEqual({ status: 200, id });
  });
});
