import type { JobError, JobState, OnFailure, Workflow, WorkflowCounts, WorkflowState, WorkflowStep } from '@baton/core';

/** A `workflows` row as `pg` returns it (bigints parsed to numbers by the pool's type parsers). */
export interface WorkflowRow {
  id: string;
  owner: string;
  name: string | null;
  state: string;
  on_failure: string;
  max_steps: number;
  idempotency_key: string | null;
  steps: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  skipped: number;
  cancel_requested: boolean;
  created_at: number;
  finished_at: number | null;
  updated_at: number;
}

/** A row of the workflowSteps statement. */
export interface WorkflowStepRow {
  step: string;
  job_id: string;
  needs: string[];
  task: string;
  queue: string;
  state: string;
  attempts: number;
  error: JobError | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export function countsOf(row: WorkflowRow): WorkflowCounts {
  return {
    steps: row.steps,
    succeeded: row.succeeded,
    failed: row.failed,
    cancelled: row.cancelled,
    skipped: row.skipped,
  };
}

export function workflowFromRow(row: WorkflowRow): Workflow {
  return {
    id: row.id,
    owner: row.owner,
    name: row.name,
    state: row.state as WorkflowState,
    onFailure: row.on_failure as OnFailure,
    maxSteps: row.max_steps,
    idempotencyKey: row.idempotency_key,
    counts: countsOf(row),
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

export function stepFromRow(row: WorkflowStepRow): WorkflowStep {
  return {
    step: row.step,
    jobId: row.job_id,
    task: row.task,
    queue: row.queue,
    needs: row.needs,
    state: row.state as JobState,
    attempts: row.attempts,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
