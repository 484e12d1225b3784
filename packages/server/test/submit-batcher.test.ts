import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { NewJob } from '@baton/core';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { Store } from '@baton/store';
import { openStore } from '@baton/store';
import { SubmitBatcher } from '../src/submit-batcher.js';
import type { Harness, HarnessBackend } from './harness.js';
import { startHarness } from './harness.js';

function newJob(over: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue: 'default',
    task: 'demo.echo',
    owner: 'ada',
    payload: {},
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    maxAttempts: 1,
    backoffMs: 1000,
    timeoutMs: null,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
    ...over,
  };
}

/** A real store whose enqueue calls are counted (and can be made to fail). */
function counting(store: Store) {
  const calls: number[] = [];
  let failNext: Error | null = null;
  const enqueue: Store['enqueue'] = async (jobs) => {
    calls.push(jobs.length);
    if (failNext) {
      const err = failNext;
      failNext = null;
      throw err;
    }
    return store.enqueue(jobs);
  };
  return { target: { enqueue }, calls, failOnce: (err: Error) => (failNext = err) };
}

describe('SubmitBatcher', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
  });
  afterEach(async () => store.close());

  it('stores jobs that arrive together in one call, each caller getting its own job', async () => {
    const c = counting(store);
    const batcher = new SubmitBatcher(c.target);
    const jobs = Array.from({ length: 40 }, (_, i) => newJob({ payload: { i } }));
    const results = await Promise.all(jobs.map((j) => batcher.submit(j)));
    expect(results.map((r) => r.job.id)).toEqual(jobs.map((j) => j.id));
    expect(results.every((r) => r.created && r.job.state === 'queued')).toBe(true);
    expect(c.calls).toEqual([40]);
    for (const j of jobs) expect((await store.getJob(j.id))?.payload).toEqual(j.payload);
  });

  it('gathers what arrives while a call is in flight into the next call, never more than maxBatch', async () => {
    const c = counting(store);
    const batcher = new SubmitBatcher(c.target, { maxBatch: 7, maxInFlight: 1 });
    const first = batcher.submit(newJob());
    // Arrives after the first call left: waits for it, then goes with the rest.
    await new Promise((r) => setImmediate(r));
    const rest = Array.from({ length: 20 }, () => batcher.submit(newJob()));
    await Promise.all([first, ...rest]);
    expect(c.calls).toEqual([1, 7, 7, 6]);
    expect(batcher.backlog).toBe(0);
  });

  it('gives two submissions with one idempotency key in one batch the one job', async () => {
    const c = counting(store);
    const batcher = new SubmitBatcher(c.target);
    const [a, b] = await Promise.all([
      batcher.submit(newJob({ idempotencyKey: 'k1' })),
      batcher.submit(newJob({ idempotencyKey: 'k1' })),
    ]);
    expect(c.calls).toEqual([2]);
    expect(a!.created).toBe(true);
    expect(b!.created).toBe(false);
    expect(b!.job.id).toBe(a!.job.id);
    expect((await store.listJobs({ limit: 50 })).jobs).toHaveLength(1);
  });

  it('fails every request of a failed call with its error, and the next batch is stored', async () => {
    const c = counting(store);
    const batcher = new SubmitBatcher(c.target);
    c.failOnce(new Error('store went away'));
    const failed = await Promise.allSettled([batcher.submit(newJob()), batcher.submit(newJob())]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    expect(String((failed[0] as PromiseRejectedResult).reason)).toContain('store went away');
    const ok = await batcher.submit(newJob());
    expect(ok.created).toBe(true);
    expect((await store.listJobs({ limit: 50 })).jobs.map((j) => j.id)).toEqual([ok.job.id]);
  });
});

/** Many single submissions at once through the API: each answered alone, none lost or doubled. */
describe.each<HarnessBackend>(['sqlite', 'postgres', 'redis'])('single submissions at once on %s', (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend, agents: 0 });
  });
  afterAll(async () => h.close());

  it('answers each of 200 concurrent POST /api/jobs with its own job; a bad one fails alone', async () => {
    const bodies = Array.from({ length: 200 }, (_, i) =>
      i === 17
        ? { task: 'demo.echo', payload: 'x'.repeat(10), priority: 'urgent-ish' }
        : { task: 'demo.echo', payload: { i } },
    );
    const answers = await Promise.all(bodies.map((b) => h.post('/api/jobs', b)));
    expect(answers[17]!.status).toBe(400);
    const created = answers.filter((_, i) => i !== 17);
    expect(created.every((a) => a.status === 201 && a.body.created === true)).toBe(true);
    const ids = created.map((a) => a.body.id as string);
    expect(new Set(ids).size).toBe(199);
    for (const [n, id] of ids.entries()) {
      const job = await h.store.getJob(id);
      const i = n < 17 ? n : n + 1;
      expect(job?.payload).toEqual({ i });
    }
    const again = await Promise.all(
      [1, 2, 3].map(() => h.post('/api/jobs', { task: 'demo.echo', idempotencyKey: 'same', payload: {} })),
    );
    expect(new Set(again.map((a) => a.body.id)).size).toBe(1);
    expect(again.filter((a) => a.body.created === true)).toHaveLength(1);
    expect(again.map((a) => a.status).sort()).toEqual([200, 200, 201]);
  });
});
