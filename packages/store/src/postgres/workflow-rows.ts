import type { WorkflowRowColumns } from '../rules/workflow-rows.js';
import type { JobError, JobState, WorkflowStep } from '@baton/core';

/** A `workflows` row as `pg` returns it (bigints parsed to numbers by the pool's type parsers). */
export interface WorkflowRow extends WorkflowRowColumns {
  cancel_requested: boolean;
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

export { countsOf, workflowFromRow } from '../rules/workflow-rows.js';
