import type {
  JobError,
  JobState,
  NewStep,
  NewWorkflow,
  OnFailure,
  Workflow,
  WorkflowState,
  WorkflowStep,
} from '@baton/core';
import { initialState } from '../rules/enqueue-rules.js';
import { ENQUEUE_FIELDS, enqueueRow } from './job-hash.js';
import type { JobHash } from './job-hash.js';

/**
 * A workflow as its Redis hash holds it ({p}:wf:<id>, see scripts/lib/workflow.lua), and the
 * arguments create-workflow.lua takes.
 */

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));

export function workflowOfHash(h: JobHash): Workflow {
  return {
    id: h.id!,
    owner: h.owner!,
    name: h.name ?? null,
    state: h.state as WorkflowState,
    onFailure: h.on_failure as OnFailure,
    maxSteps: Number(h.max_steps),
    idempotencyKey: h.idem ?? null,
    counts: {
      steps: Number(h.steps),
      succeeded: Number(h.succeeded ?? 0),
      failed: Number(h.failed ?? 0),
      cancelled: Number(h.cancelled ?? 0),
      skipped: Number(h.skipped ?? 0),
    },
    createdAt: Number(h.created_at),
    finishedAt: num(h.finished_at),
    updatedAt: Number(h.updated_at),
  };
}

/** The workflow hash's first fields: id and owner first (create-workflow.lua reads them by place). */
export function workflowFields(w: NewWorkflow): string[] {
  const fields = [
    'id',
    w.id,
    'owner',
    w.owner,
    'state',
    'running',
    'on_failure',
    w.onFailure,
    'max_steps',
    String(w.maxSteps),
    'created_at',
    String(w.createdAt),
    'updated_at',
    String(w.createdAt),
    'steps',
    String(w.steps.length),
    'succeeded',
    '0',
    'failed',
    '0',
    'cancelled',
    '0',
    'skipped',
    '0',
  ];
  if (w.name !== null) fields.push('name', w.name);
  if (w.idempotencyKey !== null) fields.push('idem', w.idempotencyKey);
  return fields;
}

/** Each step's first state: blocked while it has needs, else as a plain job's. */
export function stepStates(w: NewWorkflow, now: number): JobState[] {
  return w.steps.map((s) => (s.needs.length > 0 ? 'blocked' : initialState(s.job, now)));
}

/**
 * The steps as create-workflow.lua's (and add-steps.lua's) one JSON argument: each step's id,
 * needs (JSON text), initial state, timeout and job hash values (ENQUEUE_FIELDS), every value
 * a string.
 */
export function stepsArgument(newSteps: readonly NewStep[], states: readonly JobState[]): string {
  const steps = newSteps.map((s, i) => [
    s.step,
    JSON.stringify(s.needs),
    states[i]!,
    s.job.timeoutMs === null ? '' : String(s.job.timeoutMs),
    ...enqueueRow(s.job),
  ]);
  return JSON.stringify({ names: ENQUEUE_FIELDS, steps });
}

/** A step as workflowSteps shows it, from its job hash. */
export function stepOfHash(h: JobHash): WorkflowStep {
  return {
    step: h.wf_step ?? '',
    jobId: h.id!,
    task: h.task!,
    queue: h.queue!,
    needs: JSON.parse(h.wf_needs ?? '[]') as string[],
    state: h.state as JobState,
    attempts: Number(h.attempts),
    error: h.error === undefined ? null : (JSON.parse(h.error) as JobError),
    createdAt: Number(h.created_at),
    startedAt: num(h.started_at),
    finishedAt: num(h.finished_at),
  };
}
