import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AddedSteps } from '@baton/core';
import { defineTask } from '@baton/agent';
import type { Harness, HarnessLink } from './harness.js';
import { startHarness } from './harness.js';

const ITERATIONS = 20;
const CANDIDATES = ['a', 'b', 'c'];

/** What each step's handler saw as inputs, and what each propose's `add` answered, by step id. */
const inputs = new Map<string, unknown>();
const answers = new Map<string, AddedSteps>();

/** Adds iteration i (three evaluations, a training, the next propose) until ITERATIONS have run. */
const propose = defineTask('test.propose', async (payload: { i: number }, ctx) => {
  inputs.set(ctx.workflow!.step, ctx.inputs);
  const { i } = payload;
  if (i < ITERATIONS) {
    const evaluations = CANDIDATES.map((c) => `eval-${i}-${c}`);
    const added = await ctx.workflow!.add([
      ...evaluations.map((id, k) => ({ id, task: 'test.evaluate', payload: { k }, needs: [`propose-${i}`] })),
      { id: `train-${i}`, task: 'test.train', needs: evaluations },
      { id: `propose-${i + 1}`, task: 'test.propose', payload: { i: i + 1 }, needs: [`train-${i}`] },
    ]);
    answers.set(ctx.workflow!.step, added);
  }
  return { proposal: i };
});
const evaluate = defineTask('test.evaluate', async (payload: { k: number }, ctx) => {
  inputs.set(ctx.workflow!.step, ctx.inputs);
  const { proposal } = Object.values(ctx.inputs)[0] as { proposal: number };
  return { score: proposal * 10 + payload.k };
});
const train = defineTask('test.train', async (_payload: unknown, ctx) => {
  inputs.set(ctx.workflow!.step, ctx.inputs);
  const scores = Object.values(ctx.inputs).map((v) => (v as { score: number }).score);
  return { best: Math.max(...scores) };
});

/** Campaigns: workflows grown by their own steps (ctx.workflow.add), on a real server (SQLite). */
describe.each<HarnessLink>(['local', 'ws'])('campaigns (%s agent)', (link) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
    inputs.clear();
    answers.clear();
  });

  const waitWorkflow = async (id: string) => {
    let last: any;
    await vi.waitFor(
      async () => {
        last = (await h.get(`/api/workflows/${id}?stepsLimit=1000`)).body;
        if (last.state === 'running') throw new Error(`still running: ${JSON.stringify(last.counts)}`);
      },
      { timeout: 60_000, interval: 25 },
    );
    return last;
  };

  it(`runs ${ITERATIONS} iterations on an agent of one slot: waiting for the next iteration holds none`, async () => {
    h = await startHarness({ agents: 0, link });
    // One slot: a propose that held it while its iteration ran would leave no room for that iteration.
    await h.addAgent({ tasks: [propose, evaluate, train], concurrency: 1 });
    const r = await h.post('/api/workflows', {
      name: 'campaign',
      steps: [{ id: 'propose-1', task: 'test.propose', payload: { i: 1 } }],
    });
    expect(r.status).toBe(201);
    const w = await waitWorkflow(r.body.id);
    const steps = 1 + 5 * (ITERATIONS - 1);
    expect(w).toMatchObject({ state: 'succeeded', counts: { steps, succeeded: steps, failed: 0, skipped: 0 } });
    expect(w.steps).toHaveLength(steps);
    // Each add answered its new steps, blocked on the step that added them, with their job ids.
    const first = answers.get('propose-1')!;
    expect(first.steps.map((s) => [s.step, s.state])).toEqual([
      ['eval-1-a', 'blocked'],
      ['eval-1-b', 'blocked'],
      ['eval-1-c', 'blocked'],
      ['train-1', 'blocked'],
      ['propose-2', 'blocked'],
    ]);
    expect(first.workflow.counts.steps).toBe(6);
    const jobIds = new Map(w.steps.map((s: any) => [s.step, s.jobId]));
    for (const s of first.steps) expect(jobIds.get(s.step)).toBe(s.jobId);
    // Inputs flowed: proposal → evaluations → training → the next proposal.
    for (let i = 1; i < ITERATIONS; i++) {
      expect(inputs.get(`eval-${i}-b`)).toEqual({ [`propose-${i}`]: { proposal: i } });
      expect(inputs.get(`train-${i}`)).toEqual({
        [`eval-${i}-a`]: { score: i * 10 },
        [`eval-${i}-b`]: { score: i * 10 + 1 },
        [`eval-${i}-c`]: { score: i * 10 + 2 },
      });
      expect(inputs.get(`propose-${i + 1}`)).toEqual({ [`train-${i}`]: { best: i * 10 + 2 } });
    }
    // Every step is a job of the workflow's owner, like the step that started it.
    const job = (await h.get(`/api/jobs/${jobIds.get(`train-${ITERATIONS - 1}`)}`)).body;
    expect(job).toMatchObject({ owner: 'admin', workflow: { id: r.body.id, step: `train-${ITERATIONS - 1}` } });
  }, 90_000);

  it('runs the demo campaign (demo.propose, demo.evaluate, demo.train) to its end', async () => {
    h = await startHarness({ agents: 1, link });
    const r = await h.post('/api/workflows', {
      name: 'campaign',
      maxSteps: 16,
      steps: [{ id: 'propose-1', task: 'demo.propose', payload: { iteration: 1, iterations: 3, ms: 0 } }],
    });
    expect(r.status).toBe(201);
    const w = await waitWorkflow(r.body.id);
    expect(w).toMatchObject({ state: 'succeeded', counts: { steps: 16, succeeded: 16 } });
    const last = w.steps.find((s: any) => s.step === 'propose-4');
    const job = (await h.get(`/api/jobs/${last.jobId}`)).body;
    expect(job.result).toMatchObject({ iteration: 4, done: true, best: { candidate: expect.any(String) } });
  });
});
