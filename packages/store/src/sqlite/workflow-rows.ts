import type { JobError, JobState, OnFailure, Workflow, WorkflowState, WorkflowStep } from '@baton/core';

/** A `workflows` row as better-sqlite3 returns it. */
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
  cancel_requested: number;
  created_at: number;
  finished_at: number | null;
  updated_at: number;
}

/** A `workflow_steps` row. */
export interface StepRow {
  job_id: string;
  workflow_id: string;
  step: string;
  needs: string;
  needs_left: number;
  inputs: string | null;
  attempt_budget: number;
}

/** What `stepsPage` reads per step. */
export interface StepPageRow {
  id: string;
  task: string;
  queue: string;
  state: string;
  attempts: number;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  step: string;
  needs: string;
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
    counts: {
      steps: row.steps,
      succeeded: row.succeeded,
      failed: row.failed,
      cancelled: row.cancelled,
      skipped: row.skipped,
    },
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

export function stepFromRow(row: StepPageRow): WorkflowStep {
  return {
    step: row.step,
    jobId: row.id,
    task: row.task,
    queue: row.queue,
    needs: JSON.parse(row.needs) as string[],
    state: row.state as JobState,
    attempts: row.attempts,
    error: row.error === null ? null : (JSON.parse(row.error) as JobError),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
