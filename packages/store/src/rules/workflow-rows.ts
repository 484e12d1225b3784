import type { OnFailure, Workflow, WorkflowCounts, WorkflowState } from '@baton/core';

/**
 * A `workflows` row as SQLite and PostgreSQL both store it (the same columns; only how
 * `cancel_requested` reads differs, so each backend adds its own), and its mapping.
 */
export interface WorkflowRowColumns {
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
  created_at: number;
  finished_at: number | null;
  updated_at: number;
}

export function countsOf(row: WorkflowRowColumns): WorkflowCounts {
  return {
    steps: row.steps,
    succeeded: row.succeeded,
    failed: row.failed,
    cancelled: row.cancelled,
    skipped: row.skipped,
  };
}

export function workflowFromRow(row: WorkflowRowColumns): Workflow {
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
