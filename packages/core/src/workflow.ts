import type { JobError, JobState, NewJob } from './job.js';

/**
 * The workflow model shared by every package. A workflow is a DAG of steps; each step is a
 * job that carries `workflow: {id, step, needs}`. A step with unfinished needs is `blocked`;
 * when the last of them succeeds it is released (`queued`) with their results as its
 * `inputs`. When a step ends without success (failed, cancelled, skipped), the steps that
 * need it, directly or not, end `skipped`; under `fail-fast` every other unfinished step is
 * cancelled too. Advancing is part of the store transition that finished the step.
 */

export const WORKFLOW_STATES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type WorkflowState = (typeof WORKFLOW_STATES)[number];

export const ON_FAILURE = ['fail-fast', 'continue'] as const;
/** `fail-fast` (default): a step that does not succeed cancels every unfinished step. `continue`: only its dependents end (skipped). */
export type OnFailure = (typeof ON_FAILURE)[number];

/** Steps a workflow may hold, counting those added while it runs, unless it sets a lower `maxSteps`. */
export const DEFAULT_MAX_STEPS = 10_000;
/** Steps one workflow may ever hold, whatever its `maxSteps`. */
export const MAX_WORKFLOW_STEPS = 10_000;

/** A step as the store creates it: its job (owner and ids already set) and the ids of the steps it needs. */
export interface NewStep {
  step: string;
  needs: string[];
  job: NewJob;
}

/** Everything the store needs to create a workflow; produced by the API edge after validation. */
export interface NewWorkflow {
  id: string;
  owner: string;
  name: string | null;
  onFailure: OnFailure;
  maxSteps: number;
  idempotencyKey: string | null;
  createdAt: number;
  /** Every need names a step of this list, and there is no cycle: the edge checked both. */
  steps: NewStep[];
}

/** How many of a workflow's steps are in each final state; `steps` counts them all. */
export interface WorkflowCounts {
  steps: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  skipped: number;
}

export interface Workflow {
  id: string;
  owner: string;
  name: string | null;
  state: WorkflowState;
  onFailure: OnFailure;
  maxSteps: number;
  idempotencyKey: string | null;
  counts: WorkflowCounts;
  createdAt: number;
  /** When the last step finished (the workflow's final state), or null while running. */
  finishedAt: number | null;
  updatedAt: number;
}

/** One step of a workflow as `GET /api/workflows/:id` shows it: read from its job. */
export interface WorkflowStep {
  step: string;
  jobId: string;
  task: string;
  queue: string;
  needs: string[];
  state: JobState;
  attempts: number;
  error: JobError | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** The states a step ends in when it did not succeed. */
export const UNSUCCESSFUL_STATES: ReadonlySet<JobState> = new Set(['failed', 'cancelled', 'skipped']);

/** The unfinished steps of a workflow (its `steps` less those in a final state). */
export function unfinishedSteps(counts: WorkflowCounts): number {
  return counts.steps - counts.succeeded - counts.failed - counts.cancelled - counts.skipped;
}

/**
 * The state a workflow ends in once no step is unfinished: `cancelled` when it was
 * cancelled, `succeeded` when every step succeeded, else `failed`.
 */
export function finalWorkflowState(counts: WorkflowCounts, cancelRequested: boolean): WorkflowState {
  if (cancelRequested) return 'cancelled';
  return counts.succeeded === counts.steps ? 'succeeded' : 'failed';
}

/** The error a skipped step carries: which need did not succeed. */
export function skippedError(need: string, needState: JobState): JobError {
  return {
    code: 'NEED_UNSUCCESSFUL',
    message: `step ${need} ${needState}, so this step was skipped`,
    retryable: false,
  };
}

/** The error a step cancelled by fail-fast carries. */
export function failFastError(step: string, stepState: JobState): JobError {
  return {
    code: 'WORKFLOW_FAILED',
    message: `step ${step} ${stepState} and the workflow fails fast, so this step was cancelled`,
    retryable: false,
  };
}

/** The error of a step cancelled with its workflow. */
export const WORKFLOW_CANCELLED_ERROR: JobError = {
  code: 'WORKFLOW_CANCELLED',
  message: 'the workflow was cancelled',
  retryable: false,
};
