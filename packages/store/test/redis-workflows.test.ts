import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCES, failFastError, newJobId, skippedError } from '@baton/core';
import type { NewJob, NewWorkflow } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { Redis } from 'ioredis';
import { dropPrefix } from './redis-prefix.js';

/**
 * Redis-only workflow checks the conformance suite leaves out: a workflow of the most steps
 * allowed (one create call, one cascade), the error texts the Lua scripts write (made from
 * @baton/core's), and counts that stay exact through a cascade.
 */
const HOST = '127.0.0.1';
const PORT = 6379;
const DB = 11;
const prefix = `baton-wf-${randomBytes(5).toString('hex')}`;

afterAll(async () => {
  const redis = new Redis({ host: HOST, port: PORT, db: DB });
  try {
    // The stores here use prefixes of their own (`${prefix}-big` and so on): dropping `prefix`
    // alone matched none of their keys, and each run left tens of thousands in database 11,
    // which every Redis conformance test's cleanup then scanned (redis.test.ts grew from 4 s
    // to 48 s over a day's runs).
    for (const suffix of ['', '-big', '-join', '-text', '-v4']) await dropPrefix(redis, `${prefix}${suffix}`);
  } finally {
    await redis.quit();
  }
});

function job(now: number, queue: string, overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: newJobId(now),
    queue,
    task: 't',
    owner: 'o',
    payload: { big: 1_800_000_000_123 },
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
}

function workflow(now: number, queue: string, steps: [string, string[]][], onFailure: NewWorkflow['onFailure']) {
  const id = newJobId(now);
  const spec: NewWorkflow = {
    id,
    owner: 'o',
    name: null,
    onFailure,
    maxSteps: 10_000,
    idempotencyKey: null,
    createdAt: now,
    steps: steps.map(([step, needs]) => ({ step, needs, job: { ...job(now, queue), workflow: { id, step, needs } } })),
  };
  return spec;
}

async function runAndFinish(store: Store, jobId: string, outcome: 'succeeded' | 'failed'): Promise<void> {
  const [a] = await store.assign([{ jobId, agentId: 'agent', gpus: [] }], 60_000);
  const ref = { jobId, leaseToken: a!.leaseToken };
  const done =
    outcome === 'succeeded'
      ? await store.complete([{ ...ref, outcome, result: { n: 1_800_000_000_123 } }])
      : await store.complete([{ ...ref, outcome, error: { code: 'X', message: 'x', retryable: false } }]);
  expect(done[0]?.ok).toBe(true);
}

describe('redis workflows', () => {
  it('creates 10 000 steps in one call, and one failure cancels them all in one cascade', async () => {
    const store = await openStore(`redis://${HOST}:${PORT}/${DB}?prefix=${prefix}-big`);
    try {
      const now = Date.now();
      const queue = `q-${randomBytes(3).toString('hex')}`;
      const steps: [string, string[]][] = [
        ['root', []],
        ['chain0', ['root']],
      ];
      for (let i = 1; i < 5000; i++) steps.push([`chain${i}`, [`chain${i - 1}`]]);
      for (let i = 0; i < 4999; i++) steps.push([`side${i}`, []]);
      const spec = workflow(now, queue, steps, 'fail-fast');
      const { workflow: made, created } = await store.createWorkflow(spec);
      expect(created).toBe(true);
      expect(made.counts.steps).toBe(10_000);
      const stats = (await store.queueStats()).find((s) => s.queue === queue);
      expect(stats?.counts).toMatchObject({ queued: 5000, blocked: 5000 });
      const root = spec.steps[0]!.job.id;
      await runAndFinish(store, spec.steps[5001]!.job.id, 'succeeded');
      await runAndFinish(store, root, 'failed');
      const ended = await store.getWorkflow(spec.id);
      expect(ended).toMatchObject({
        state: 'failed',
        counts: { steps: 10_000, succeeded: 1, failed: 1, skipped: 5000, cancelled: 4998 },
      });
      const after = (await store.queueStats()).find((s) => s.queue === queue);
      expect(after?.counts).toMatchObject({ queued: 0, blocked: 0, skipped: 5000, cancelled: 4998, failed: 1 });
      const usage = await store.ownerUsage('o');
      expect(usage.queues.find((q) => q.queue === queue)?.counts).toMatchObject({
        blocked: 0,
        queued: 0,
        skipped: 5000,
        cancelled: 4998,
      });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('releases a join of 9 999 needs once, with every input', async () => {
    const store = await openStore(`redis://${HOST}:${PORT}/${DB}?prefix=${prefix}-join`);
    try {
      const now = Date.now();
      const queue = `q-${randomBytes(3).toString('hex')}`;
      const roots = Array.from({ length: 9999 }, (_, i) => `r${i}`);
      const spec = workflow(
        now,
        queue,
        [...roots.map((r): [string, string[]] => [r, []]), ['join', roots]],
        'fail-fast',
      );
      await store.createWorkflow(spec);
      const ids = spec.steps.slice(0, 9999).map((s) => s.job.id);
      for (let i = 0; i < ids.length; i += 1000) {
        const a = await store.assign(
          ids.slice(i, i + 1000).map((jobId) => ({ jobId, agentId: 'agent', gpus: [] })),
          60_000,
        );
        await store.complete(
          a.map((x) => ({
            jobId: x.job.id,
            leaseToken: x.leaseToken,
            outcome: 'succeeded',
            result: x.job.workflow?.step,
          })),
        );
      }
      const join = await store.getJob(spec.steps[9999]!.job.id);
      expect(join?.state).toBe('queued');
      expect(join?.inputs).toEqual(Object.fromEntries(roots.map((r) => [r, r])));
    } finally {
      await store.close();
    }
  }, 60_000);

  it('writes the error texts of @baton/core, and keeps big numbers in inputs as sent', async () => {
    const store = await openStore(`redis://${HOST}:${PORT}/${DB}?prefix=${prefix}-text`);
    try {
      const now = Date.now();
      const queue = `q-${randomBytes(3).toString('hex')}`;
      const spec = workflow(
        now,
        queue,
        [
          ['a "quoted" step', []],
          ['b', ['a "quoted" step']],
          ['ok', []],
          ['c', ['ok']],
          ['other', []],
        ],
        'fail-fast',
      );
      await store.createWorkflow(spec);
      const [a, b, ok, c, other] = spec.steps.map((s) => s.job.id);
      await runAndFinish(store, ok!, 'succeeded');
      expect((await store.getJob(c!))?.inputs).toEqual({ ok: { n: 1_800_000_000_123 } });
      await runAndFinish(store, a!, 'failed');
      expect((await store.getJob(b!))?.error).toEqual(skippedError('a "quoted" step', 'failed'));
      expect((await store.getJob(other!))?.error).toEqual(failFastError('a "quoted" step', 'failed'));
      expect((await store.getJob(c!))?.error).toEqual(failFastError('a "quoted" step', 'failed'));
    } finally {
      await store.close();
    }
  });

  it('marks a version 4 store as version 5 without recounting it', async () => {
    const url = `redis://${HOST}:${PORT}/${DB}?prefix=${prefix}-v4`;
    const first = await openStore(url);
    const queue = `q-${randomBytes(3).toString('hex')}`;
    await first.enqueue([job(Date.now(), queue)]);
    await first.close();
    const redis = new Redis({ host: HOST, port: PORT, db: DB });
    try {
      await redis.set(`{${prefix}-v4}:schema`, '4');
      const owner = await redis.hgetall(`{${prefix}-v4}:owner:o`);
      const again = await openStore(url);
      await again.close();
      expect(await redis.get(`{${prefix}-v4}:schema`)).toBe('5');
      expect(await redis.hgetall(`{${prefix}-v4}:owner:o`)).toEqual(owner);
    } finally {
      await redis.quit();
    }
  });
});
