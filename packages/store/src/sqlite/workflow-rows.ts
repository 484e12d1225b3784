import type { WorkflowRowColumns } from '../rules/workflow-rows.js';
import type { JobError, JobState, WorkflowStep } from '@baton/core';

/** A `workflows` row as better-sqlite3 returns it. */
export interface WorkflowRow extends WorkflowRowColumns {
  cancel_requested: number;
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

export { countsOf, workflowFromRow } from '../rules/workflow-rows.js';
