import type { AssignedJob, Job } from '@baton/core';
import type { SqliteContext } from './context.js';
import type { StepRow } from './workflow-rows.js';

/** What a step's job carries besides its row: its place in the workflow and its inputs. */

/** Adds a step's `workflow` and (once released) `inputs` to its job as read. */
export function withStepOfJob(ctx: SqliteContext, job: Job, workflowId: string): Job {
  const step = ctx.wf.getStep.get(job.id) as StepRow | undefined;
  if (!step) return job;
  job.workflow = { id: workflowId, step: step.step, needs: JSON.parse(step.needs) as string[] };
  if (step.inputs !== null) job.inputs = JSON.parse(step.inputs) as Record<string, unknown>;
  return job;
}

/** Adds a step's `workflow` and `inputs` to its assignment, for the handler. */
export function withStepOfAssigned(ctx: SqliteContext, job: AssignedJob, workflowId: string): void {
  const step = ctx.wf.getStep.get(job.id) as StepRow | undefined;
  if (!step) return;
  job.workflow = { id: workflowId, step: step.step };
  job.inputs = step.inputs === null ? {} : (JSON.parse(step.inputs) as Record<string, unknown>);
}
