import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import { BatonApiError, BatonClient } from '@baton/client';
import type { RetryInfo } from '@baton/client';
import type { ThrowawayServer } from '../../store/test/throwaway-servers.js';
import { freePort, throwawayPostgres } from '../../store/test/throwaway-servers.js';

/**
 * The SDK retries what the server could not serve for now. A real PostgreSQL goes down under
 * a real server; the client's submission meets 503 STORE_UNAVAILABLE, waits as Retry-After
 * says, and succeeds once the database is back, creating its job exactly once.
 */
const TASK = 'retry.task';

describe('BatonClient retries', () => {
  let db: ThrowawayServer;
  let store: Store;
  let server: BatonServer;
  let url: string;
  beforeAll(async () => {
    db = await throwawayPostgres();
    store = await openStore(db.storeUrl(`retry_${randomBytes(4).toString('hex')}`));
    await store.registerTasks([{ task: TASK, queue: 'default' }]);
    server = createBatonServer(store, { maxSweepMs: 100, insecureNoAuth: true });
    url = await server.listen(0);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await store?.close();
    await db?.dispose();
  });

  it('submits exactly once when the store comes back during its retries, honouring Retry-After', async () => {
    const marker = randomBytes(6).toString('hex');
    const retries: RetryInfo[] = [];
    let restarted: Promise<void> | null = null;
    const baton = new BatonClient({
      baseUrl: url,
      user: 'retrier',
      retry: {
        retries: 10,
        onRetry: (info) => {
          retries.push(info);
          restarted ??= db.start();
        },
      },
    });
    await db.stop();
    const submitted = await baton.submit(TASK, { marker });
    await restarted;

    expect(submitted.created).toBe(true);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({ retry: 1, method: 'POST', path: '/api/jobs' });
    expect(retries[0]!.error).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
    // Retry-After: 2 (seconds), spread by up to 20%.
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(2000);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(2400);

    const { jobs } = await store.listJobs({ owner: 'retrier', limit: 100 });
    const mine = jobs.filter((j) => (j.payload as { marker?: string } | null)?.marker === marker);
    expect(mine.map((j) => j.id)).toEqual([submitted.id]);
    // The client keyed it, so a submission retried after an ambiguous failure is one job.
    expect(mine[0]!.idempotencyKey).toMatch(/^sdk-[0-9a-f-]{36}$/);
  });

  it('gives up after its retries with the last error, and can be turned off', async () => {
    const seen: RetryInfo[] = [];
    const baton = new BatonClient({
      baseUrl: url,
      retry: { retries: 2, maxDelayMs: 20, onRetry: (i) => seen.push(i) },
    });
    await db.stop();
    try {
      const err = await baton.getJob('01JDB5Q2X8W6K7C3V9M4N0P1R2').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BatonApiError);
      expect(err).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
      expect(seen.map((s) => [s.retry, s.delayMs])).toEqual([
        [1, 20],
        [2, 20],
      ]);

      const noRetry = new BatonClient({ baseUrl: url, retry: false });
      await expect(noRetry.queues()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    } finally {
      await db.start();
    }
    // Without retries, no key is added: the job keeps the caller's choice.
    const plain = new BatonClient({ baseUrl: url, retry: false });
    const { id } = await retryUntilUp(() => plain.submit(TASK, { n: 1 }));
    expect((await plain.getJob(id)).idempotencyKey).toBeNull();
    const unkeyed = new BatonClient({ baseUrl: url, retry: { keySubmissions: false } });
    const [bulk] = await unkeyed.submitMany([{ task: TASK, payload: { n: 2 } }]);
    expect((await unkeyed.getJob(bulk!.id)).idempotencyKey).toBeNull();
    const keyed = new BatonClient({ baseUrl: url });
    const [auto, own] = await keyed.submitMany([{ task: TASK }, { task: TASK, idempotencyKey: 'mine' }]);
    expect((await keyed.getJob(auto!.id)).idempotencyKey).toMatch(/^sdk-/);
    expect((await keyed.getJob(own!.id)).idempotencyKey).toBe('mine');
  });

  it('streams every page of kept output, and raises STORE_UNAVAILABLE when the store ends a follow', async () => {
    const baton = new BatonClient({ baseUrl: url, retry: false });
    const { id } = await baton.submit(TASK, { follow: true });
    const written = Array.from({ length: 2100 }, (_, i) => `${i}\n`);
    await store.appendLogs(written.map((data) => ({ jobId: id, attempt: 1, stream: 'stdout' as const, data })));
    const first = await baton.logs(id);
    expect([first.chunks.length, first.more]).toEqual([1000, true]);

    const seen: string[] = [];
    let failure: unknown = null;
    let stopped: Promise<void> | null = null;
    try {
      for await (const chunk of baton.streamLogs(id)) {
        seen.push(chunk.data);
        if (seen.length === written.length) stopped = db.stop();
      }
    } catch (err) {
      failure = err;
    } finally {
      await stopped;
      await db.start();
    }
    expect(seen).toEqual(written);
    expect(failure).toBeInstanceOf(BatonApiError);
    expect(failure).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
  });

  it('retries a refused connection, then answers UNREACHABLE', async () => {
    const port = await freePort();
    const seen: RetryInfo[] = [];
    const baton = new BatonClient({
      baseUrl: `http://127.0.0.1:${port}`,
      retry: { retries: 3, baseDelayMs: 1, onRetry: (i) => seen.push(i) },
    });
    await expect(baton.submit(TASK, {})).rejects.toMatchObject({ status: 0, code: 'UNREACHABLE' });
    expect(seen.map((s) => s.retry)).toEqual([1, 2, 3]);
    const once = new BatonClient({
      baseUrl: `http://127.0.0.1:${port}`,
      retry: { retryRefused: false, onRetry: (i) => seen.push(i) },
    });
    await expect(once.queues()).rejects.toMatchObject({ status: 0, code: 'UNREACHABLE' });
    expect(seen).toHaveLength(3);
  });
});

async function retryUntilUp<T>(call: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (i > 400 || !(err instanceof BatonApiError) || err.status !== 503) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
