import { afterEach, describe, expect, it } from 'vitest';
import { defineTask } from '@baton/agent';
import type { Harness, HarnessBackend, HarnessLink, HarnessOptions } from './harness.js';
import { gateTask, isFinal, startHarness as startOn } from './harness.js';

/** Every backend with in-process agents, and agents over WebSocket once. */
const VARIANTS: { backend: HarnessBackend; link: HarnessLink }[] = [
  { backend: 'sqlite', link: 'local' },
  { backend: 'postgres', link: 'local' },
  { backend: 'redis', link: 'local' },
  { backend: 'sqlite', link: 'ws' },
];

describe.each(VARIANTS)('job lifecycle through the API ($backend, $link agents)', (variant) => {
  let h: Harness;
  afterEach(() => h?.close());
  const startHarness = (options: HarnessOptions = {}) => startOn({ ...variant, ...options });

  it('runs a job to succeeded with result, progress and history', async () => {
    h = await startHarness();
    const res = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 50 } }, { 'x-baton-user': 'ada' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'queued', created: true });
    const job = await h.waitFor(res.body.id, isFinal);
    expect(job).toMatchObject({
      state: 'succeeded',
      result: { sleptMs: 50 },
      progress: 100,
      attempts: 1,
      owner: 'ada',
      queue: 'default',
      priority: 'normal',
      error: null,
    });
    // A job shorter than the agent's 25 ms start report may go from assigned straight to its
    // outcome (docs/api.md), which a loaded machine can stretch to this 50 ms one: then it has no
    // start, and it finished after it was assigned.
    const began = job.startedAt ?? job.history[0]?.assignedAt;
    expect(Date.parse(job.finishedAt)).toBeGreaterThanOrEqual(Date.parse(began));
    expect(job.history).toHaveLength(1);
    expect(job.history[0]).toMatchObject({ attempt: 1, outcome: 'succeeded' });
  });

  it('retries a failing job with backoff, then dead-letters it', async () => {
    h = await startHarness();
    const res = await h.post('/api/jobs', { task: 'demo.fail', maxAttempts: 3, backoffMs: 20 });
    const job = await h.waitFor(res.body.id, isFinal);
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(3);
    expect(job.error).toMatchObject({ code: 'TASK_FAILED', retryable: true });
    expect(job.history.map((a: any) => a.outcome)).toEqual(['failed', 'failed', 'failed']);
    const gaps = job.history
      .slice(1)
      .map((a: any, i: number) => Date.parse(a.assignedAt) - Date.parse(job.history[i].finishedAt));
    // Equal jitter: at least half of 20 ms then 40 ms.
    expect(gaps[0]).toBeGreaterThanOrEqual(10);
    expect(gaps[1]).toBeGreaterThanOrEqual(20);
  });

  it('fails a job that outlives its timeout', async () => {
    h = await startHarness();
    const res = await h.post('/api/jobs', {
      task: 'demo.sleep',
      payload: { ms: 5000 },
      timeoutMs: 100,
      maxAttempts: 1,
    });
    const job = await h.waitFor(res.body.id, isFinal);
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'TIMEOUT' });
  });

  it('holds delayed jobs until their time', async () => {
    h = await startHarness();
    const res = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 1 }, delayMs: 300 });
    expect(res.body.state).toBe('delayed');
    const job = await h.waitFor(res.body.id, isFinal);
    expect(job.state).toBe('succeeded');
    expect(Date.parse(job.startedAt) - Date.parse(job.createdAt)).toBeGreaterThanOrEqual(300);
    const at = await h.post('/api/jobs', {
      task: 'demo.sleep',
      payload: { ms: 1 },
      runAt: new Date(Date.now() + 200).toISOString(),
    });
    expect(at.body.state).toBe('delayed');
    expect((await h.waitFor(at.body.id, isFinal)).state).toBe('succeeded');
  });

  it('returns the same job for the same idempotency key', async () => {
    h = await startHarness({ agents: 0 });
    const first = await h.post('/api/jobs', { task: 'demo.sleep', idempotencyKey: 'order-42' });
    const again = await h.post('/api/jobs', { task: 'demo.sleep', idempotencyKey: 'order-42', payload: { ms: 9 } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, created: false });
    const other = await h.post(
      '/api/jobs',
      { task: 'demo.sleep', idempotencyKey: 'order-42' },
      { 'x-baton-user': 'bob' },
    );
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('runs by priority class, then level, then FIFO', async () => {
    h = await startHarness({ agents: 0 });
    const order: string[] = [];
    const record = defineTask('test.record', async (payload: { name: string }) => {
      order.push(payload.name);
    });
    await h.store.registerTasks([{ task: 'test.record', queue: 'default' }]);
    const submit = (name: string, extra: object = {}) =>
      h.post('/api/jobs', { task: 'test.record', payload: { name }, ...extra });
    await submit('low', { priority: 'low' });
    await submit('normal-1');
    await submit('normal-2');
    await submit('high', { priority: 'high' });
    await submit('normal-urgent', { priorityLevel: 5 });
    await h.addAgent({ concurrency: 1, tasks: [record] });
    await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 100 && order.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['high', 'normal-urgent', 'normal-1', 'normal-2', 'low']);
  });

  it('cancels a queued job at once and a running job through its AbortSignal', async () => {
    h = await startHarness({ agents: 0 });
    const gate = gateTask();
    await h.addAgent({ concurrency: 1, tasks: [gate.task] });
    const running = await h.post('/api/jobs', { task: 'test.gate' });
    const queued = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 1 } });
    await h.waitFor(running.body.id, (j) => j.state === 'running');
    expect((await h.get(`/api/jobs/${queued.body.id}`)).body.state).toBe('queued');

    const cancelQueued = await h.post(`/api/jobs/${queued.body.id}/cancel`);
    expect(cancelQueued.status).toBe(200);
    expect(cancelQueued.body.state).toBe('cancelled');

    const cancelRunning = await h.post(`/api/jobs/${running.body.id}/cancel`);
    expect(cancelRunning.body.state).toBe('cancelled');
    for (let i = 0; i < 100 && gate.aborted.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(gate.aborted).toEqual([running.body.id]);

    // The agent's slot is free again: the next job runs.
    const next = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 1 } });
    expect((await h.waitFor(next.body.id, isFinal)).state).toBe('succeeded');
    const after = await h.get(`/api/jobs/${running.body.id}`);
    expect(after.body.state).toBe('cancelled');
    expect(after.body.history[0].outcome).toBe('cancelled');

    const again = await h.post(`/api/jobs/${running.body.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('JOB_FINISHED');
  });

  it('fails a job whose payload its task schema rejects, without retrying', async () => {
    h = await startHarness({ agents: 0 });
    const strict = defineTask('test.strict', async (p: { n: number }) => p.n * 2, {
      schema: {
        parse(v: unknown) {
          if (typeof (v as { n?: unknown }).n !== 'number') throw new Error('n must be a number');
          return v as { n: number };
        },
      },
    });
    await h.addAgent({ tasks: [strict] });
    const ok = await h.post('/api/jobs', { task: 'test.strict', payload: { n: 21 } });
    const bad = await h.post('/api/jobs', { task: 'test.strict', payload: { n: 'x' }, maxAttempts: 5 });
    expect((await h.waitFor(ok.body.id, isFinal)).result).toBe(42);
    const failed = await h.waitFor(bad.body.id, isFinal);
    expect(failed).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: { code: 'INVALID_PAYLOAD', retryable: false },
    });
  });

  it('lists jobs newest first with cursor pagination and reports queues', async () => {
    h = await startHarness({ agents: 0 });
    const bulk = await h.post('/api/jobs/bulk', {
      jobs: Array.from({ length: 7 }, (_, i) => ({ task: 'demo.sleep', payload: { ms: i } })),
    });
    expect(bulk.status).toBe(201);
    const ids = bulk.body.jobs.map((j: any) => j.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await h.get(`/api/jobs?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.jobs.map((j: any) => j.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await h.get('/api/jobs?state=succeeded')).body.jobs).toEqual([]);
    const queues = await h.get('/api/queues');
    const def = queues.body.queues.find((q: any) => q.name === 'default');
    expect(def.counts.queued).toBe(7);
    expect(def.oldestQueuedAgeMs).toBeGreaterThanOrEqual(0);
  });

  it('reports health and readiness', async () => {
    h = await startHarness();
    expect((await h.get('/healthz')).body).toEqual({ status: 'ok' });
    // Ready once the scheduler holds its shards: on a networked store on a loaded machine that
    // takes more than a fixed pause, so the test waits for it (and fails if it never comes).
    let ready = await h.get('/readyz');
    for (let tries = 0; ready.status !== 200 && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 50));
      ready = await h.get('/readyz');
    }
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ store: 'ok', scheduler: 'ok' });
    const agents = await h.get('/api/agents');
    expect(agents.body.agents).toHaveLength(1);
    await h.store.close();
    const down = await h.get('/readyz');
    expect(down.status).toBe(503);
  });
});
