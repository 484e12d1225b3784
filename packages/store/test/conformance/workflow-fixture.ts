import type { JobAssignment, NewJob, NewStep, NewWorkflow, OnFailure, Workflow } from '@baton/core';
import { newJobId } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS, ref } from './fixture.js';

/** A step for {@link newWorkflow}: `[id, needs, overrides of its job]`. */
export type StepDef = [string, string[]?, Partial<NewJob>?];

/** A workflow of this test's owner and queue, its steps' jobs made as `x.job` makes jobs. */
export function newWorkflow(
  x: Fixture,
  steps: StepDef[],
  options: { onFailure?: OnFailure; idempotencyKey?: string; name?: string; maxSteps?: number } = {},
): NewWorkflow {
  const id = newJobId(x.now);
  return {
    id,
    owner: x.owner,
    name: options.name ?? null,
    onFailure: options.onFailure ?? 'fail-fast',
    maxSteps: options.maxSteps ?? 10_000,
    idempotencyKey: options.idempotencyKey ?? null,
    createdAt: x.now,
    steps: steps.map(([step, needs = [], overrides = {}]) => {
      const job = x.job({ payload: { step }, ...overrides });
      return { step, needs, job: { ...job, workflow: { id, step, needs } } };
    }),
  };
}

/** Creates a workflow; answers it and its steps' job ids by step id. */
export async function createWorkflow(
  x: Fixture,
  steps: StepDef[],
  options: Parameters<typeof newWorkflow>[2] = {},
): Promise<{ workflow: Workflow; jobs: Record<string, string> }> {
  const spec = newWorkflow(x, steps, options);
  const { workflow } = await x.store.createWorkflow(spec);
  return { workflow, jobs: Object.fromEntries(spec.steps.map((s) => [s.step, s.job.id])) };
}

/** Assigns and starts a queued step, failing the test if the store does not. */
export async function startStep(x: Fixture, jobId: string, agentId = 'agent-1'): Promise<JobAssignment> {
  const a = await x.assign(jobId, agentId);
  const [started] = await x.store.start([ref(a)], LEASE_MS);
  if (!started?.ok) throw new Error(`start refused: ${JSON.stringify(started)}`);
  return a;
}

/** Runs a queued step to success with `result`. */
export async function succeedStep(x: Fixture, jobId: string, result: unknown = { from: jobId }): Promise<void> {
  const a = await startStep(x, jobId);
  const [done] = await x.store.complete([x.succeed(a, result)]);
  if (!done?.ok) throw new Error(`complete refused: ${JSON.stringify(done)}`);
}

/** Runs a queued step to a failure that is not retried. */
export async function failStep(x: Fixture, jobId: string): Promise<void> {
  const a = await startStep(x, jobId);
  const [done] = await x.store.complete([x.fail(a, false)]);
  if (done?.state !== 'failed') throw new Error(`expected failed: ${JSON.stringify(done)}`);
}

/** Each step's job state, by step id. */
export async function stepStates(
  x: Fixture,
  jobs: Record<string, string>,
): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const [step, id] of Object.entries(jobs)) out[step] = await x.state(id);
  return out;
}

/** Steps to add to workflow `workflowId`, made as {@link newWorkflow} makes them. */
export function newSteps(x: Fixture, workflowId: string, steps: StepDef[]): NewStep[] {
  return steps.map(([step, needs = [], overrides = {}]) => {
    const job = x.job({ payload: { step }, ...overrides });
    return { step, needs, job: { ...job, workflow: { id: workflowId, step, needs } } };
  });
}
