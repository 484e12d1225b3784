import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineTask } from '@baton/agent';
import type { Harness, HarnessLink } from './harness.js';
import { gateTask, startHarness } from './harness.js';

/** What each `test.capture` handler saw, by step id. */
const seen = new Map<string, { inputs: unknown; workflow: unknown; jobId: string }>();
/** Records its context and returns `payload.out`: the result its dependents get as input. */
const capture = defineTask('test.capture', async (payload: { out?: unknown }, ctx) => {
  seen.set(ctx.workflow?.step ?? `plain-${ctx.job.id}`, {
    inputs: ctx.inputs,
    workflow: ctx.workflow,
    jobId: ctx.job.id,
  });
  return payload.out ?? null;
});

/** Workflows running end to end on a real server (SQLite) and agents, in process and remote. */
describe.each<HarnessLink>(['local', 'ws'])('workflows run (%s agent)', (link) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
    seen.clear();
  });

  const start = async (extra: Parameters<Harness['addAgent']>[0] = {}) => {
    h = await startHarness({ agents: 0, link });
    await h.addAgent({ tasks: [capture, ...(extra.tasks ?? [])], concurrency: 8 });
  };
  /** Polls the workflow until `done` holds (bounded), returning it with all its steps. */
  const waitWorkflow = async (id: string, done: (w: any) => boolean = (w) => w.state !== 'running') => {
    let last: any;
    await vi.waitFor(
      async () => {
        last = (await h.get(`/api/workflows/${id}?stepsLimit=1000`)).body;
        if (!done(last)) throw new Error(`workflow not there yet: ${JSON.stringify(last).slice(0, 400)}`);
      },
      { timeout: 15_000, interval: 20 },
    );
    return last;
  };
  const byStep = (w: any): Record<string, any> => Object.fromEntries(w.steps.map((s: any) => [s.step, s]));

  it('runs a diamond, handing each handler its needs’ results as ctx.inputs and its place as ctx.workflow', async () => {
    await start();
    const r = await h.post('/api/workflows', {
      name: 'diamond',
      steps: [
        { id: 'a', task: 'test.capture', payload: { out: { pages: 3 } } },
        { id: 'b', task: 'test.capture', payload: { out: 'bee' }, needs: ['a'] },
        { id: 'c', task: 'test.capture', payload: { out: null }, needs: ['a'] },
        { id: 'd', task: 'test.capture', payload: { out: 'done' }, needs: ['b', 'c'] },
      ],
    });
    expect(r.status).toBe(201);
    const w = await waitWorkflow(r.body.id);
    expect(w).toMatchObject({ state: 'succeeded', counts: { steps: 4, succeeded: 4 } });
    expect(seen.get('a')).toMatchObject({ inputs: {}, workflow: { id: r.body.id, step: 'a' } });
    expect(seen.get('b')?.inputs).toEqual({ a: { pages: 3 } });
    expect(seen.get('c')?.inputs).toEqual({ a: { pages: 3 } });
    expect(seen.get('d')?.inputs).toEqual({ b: 'bee', c: null });
    // GET /api/jobs/:id shows a step's workflow and inputs.
    const d = (await h.get(`/api/jobs/${byStep(w).d.jobId}`)).body;
    expect(d).toMatchObject({
      workflow: { id: r.body.id, step: 'd', needs: ['b', 'c'] },
      inputs: { b: 'bee', c: null },
    });
    // A plain job's handler sees no workflow and empty inputs; its JSON has neither field.
    const plain = (await h.post('/api/jobs', { task: 'test.capture', payload: {} })).body.id;
    const job = await h.waitFor(plain, (j) => j.state === 'succeeded');
    expect(seen.get(`plain-${plain}`)).toMatchObject({ inputs: {}, workflow: undefined });
    expect('workflow' in job || 'inputs' in job).toBe(false);
  });

  it('fans out and in: the demo document pipeline indexes every page', async () => {
    await start();
    const pages = ['ocr-1', 'ocr-2', 'ocr-3', 'ocr-4', 'ocr-5'];
    const r = await h.post('/api/workflows', {
      steps: [
        { id: 'extract', task: 'demo.extract', payload: { document: 'a.pdf', pages: 5, ms: 0 } },
        ...pages.map((id, i) => ({ id, task: 'demo.ocr', payload: { page: i + 1, ms: 0 }, needs: ['extract'] })),
        { id: 'index', task: 'demo.index', payload: { ms: 0 }, needs: pages },
      ],
    });
    const w = await waitWorkflow(r.body.id);
    expect(w.state).toBe('succeeded');
    const index = (await h.get(`/api/jobs/${byStep(w).index.jobId}`)).body;
    expect(index.result).toEqual({ indexed: 5, words: 5 * 6 });
    expect(Object.keys(index.inputs).sort()).toEqual(pages);
    expect(index.inputs['ocr-2']).toEqual({ page: 2, text: 'text of page 2 of a.pdf' });
  });

  it('fail-fast: a failed step skips its dependents and cancels the rest, aborting a running handler', async () => {
    const gate = gateTask('test.wf-gate');
    await start({ tasks: [gate.task] });
    const r = await h.post('/api/workflows', {
      steps: [
        { id: 'slow', task: 'test.wf-gate' },
        { id: 'bad', task: 'demo.fail', maxAttempts: 1 },
        { id: 'after-bad', task: 'test.capture', needs: ['bad'] },
        { id: 'after-after', task: 'test.capture', needs: ['after-bad'] },
      ],
    });
    const w = await waitWorkflow(r.body.id);
    const steps = byStep(w);
    expect(w.state).toBe('failed');
    expect(steps.bad.state).toBe('failed');
    expect(steps['after-bad']).toMatchObject({ state: 'skipped', error: { code: 'NEED_UNSUCCESSFUL' } });
    expect(steps['after-after'].state).toBe('skipped');
    // The slow step was cancelled, running or not yet; if its handler ran, its signal aborted.
    expect(steps.slow).toMatchObject({ state: 'cancelled', error: { code: 'WORKFLOW_FAILED' } });
    if (gate.started.length > 0) await vi.waitFor(() => expect(gate.aborted).toEqual(gate.started));
    expect(w.counts).toMatchObject({ steps: 4, failed: 1, skipped: 2, cancelled: 1 });
    gate.release();
  });

  it('continue: a failed step skips only its dependents; independent branches run to success', async () => {
    await start();
    const r = await h.post('/api/workflows', {
      onFailure: 'continue',
      steps: [
        { id: 'bad', task: 'demo.fail', maxAttempts: 1 },
        { id: 'after-bad', task: 'test.capture', needs: ['bad'] },
        { id: 'good', task: 'test.capture', payload: { out: 1 } },
        { id: 'after-good', task: 'test.capture', needs: ['good'] },
      ],
    });
    const w = await waitWorkflow(r.body.id);
    const steps = byStep(w);
    expect(w.state).toBe('failed');
    expect([steps.bad.state, steps['after-bad'].state, steps.good.state, steps['after-good'].state]).toEqual([
      'failed',
      'skipped',
      'succeeded',
      'succeeded',
    ]);
    expect(seen.get('after-good')?.inputs).toEqual({ good: 1 });
    expect(seen.has('after-bad')).toBe(false);
  });

  it('cancel: every unfinished step ends cancelled and a running handler gets its AbortSignal', async () => {
    const gate = gateTask('test.wf-gate');
    await start({ tasks: [gate.task] });
    const r = await h.post('/api/workflows', {
      steps: [
        { id: 'hold', task: 'test.wf-gate' },
        { id: 'next', task: 'test.capture', needs: ['hold'] },
      ],
    });
    await vi.waitFor(() => expect(gate.started).toHaveLength(1), { timeout: 10_000, interval: 10 });
    const cancelled = await h.post(`/api/workflows/${r.body.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled', counts: { cancelled: 2 } });
    await vi.waitFor(() => expect(gate.aborted).toEqual(gate.started), { timeout: 10_000, interval: 10 });
    const steps = byStep(await waitWorkflow(r.body.id));
    expect(steps.hold).toMatchObject({ state: 'cancelled', error: { code: 'WORKFLOW_CANCELLED' } });
    expect(steps.next.state).toBe('cancelled');
    gate.release();
  });

  it('retry from a step re-runs it and what needs it; untouched steps keep their one attempt', async () => {
    await start();
    const r = await h.post('/api/workflows', {
      onFailure: 'continue',
      steps: [
        { id: 'a', task: 'test.capture', payload: { out: 'A' } },
        { id: 'b', task: 'test.capture', payload: { out: 'B' }, needs: ['a'] },
        { id: 'c', task: 'test.capture', payload: { out: 'C' }, needs: ['b'] },
        { id: 'side', task: 'test.capture', needs: ['a'] },
      ],
    });
    const first = await waitWorkflow(r.body.id);
    expect(first.state).toBe('succeeded');
    seen.clear();
    const nothing = await h.post(`/api/workflows/${r.body.id}/retry`, {});
    expect(nothing.status).toBe(409);
    expect(nothing.body.error.code).toBe('NOTHING_TO_RETRY');
    const unknown = await h.post(`/api/workflows/${r.body.id}/retry`, { from: 'zzz' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('STEP_NOT_FOUND');
    const retried = await h.post(`/api/workflows/${r.body.id}/retry`, { from: 'b' });
    expect(retried.status).toBe(200);
    expect(retried.body.state).toBe('running');
    const again = await waitWorkflow(r.body.id);
    const steps = byStep(again);
    expect(again.state).toBe('succeeded');
    expect([steps.a.attempts, steps.side.attempts, steps.b.attempts, steps.c.attempts]).toEqual([1, 1, 2, 2]);
    expect([...seen.keys()].sort()).toEqual(['b', 'c']);
    expect(seen.get('b')?.inputs).toEqual({ a: 'A' });
    expect(seen.get('c')?.inputs).toEqual({ b: 'B' });
  });
});
