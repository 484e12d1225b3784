import type {
  AssignedJob,
  AttemptOutcome,
  Constraints,
  Job,
  JobAttempt,
  JobError,
  JobState,
  NewJob,
  PendingJob,
  Resources,
} from '@baton/core';
import { PRIORITY_CLASSES, priorityRank } from '@baton/core';
import { withDefaultResources } from '../rules/resources.js';

/**
 * A `jobs` row as `pg` returns it: bigint columns parsed to numbers (see the pool's type
 * parsers), json and jsonb parsed, integer[] as numbers.
 */
export interface JobRow {
  id: string;
  queue: string;
  task: string;
  owner: string;
  payload: unknown;
  state: string;
  priority: number;
  priority_level: number;
  resources: Partial<Resources>;
  constraints: Partial<Constraints>;
  attempts: number;
  max_attempts: number;
  backoff_ms: number;
  timeout_ms: number | null;
  run_at: number;
  idempotency_key: string | null;
  progress: number | null;
  result: unknown;
  error: JobError | null;
  agent_id: string | null;
  gpus: number[];
  avoid_agent_id: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  assigned_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  /** The step's workflow; null for a plain job. */
  workflow_id: string | null;
}

/**
 * A job row with its step row joined where it is a step (see STEP_OF_JOB in sql/jobs.ts);
 * the step columns are null, or absent, for a plain job.
 */
export interface StepJobRow extends JobRow {
  workflow_step?: string | null;
  workflow_needs?: string[] | null;
  workflow_inputs?: Record<string, unknown> | null;
}

export interface AttemptRow {
  attempt: number;
  agent_id: string;
  assigned_at: number;
  started_at: number | null;
  finished_at: number | null;
  outcome: string | null;
  error: JobError | null;
  /** The attempt is the job row's latest one, not a job_attempts row. */
  on_job: boolean;
}

export type PendingRow = Pick<
  JobRow,
  | 'id'
  | 'queue'
  | 'task'
  | 'owner'
  | 'priority'
  | 'priority_level'
  | 'resources'
  | 'constraints'
  | 'avoid_agent_id'
  | 'timeout_ms'
>;

export type AssignedRow = Pick<
  JobRow,
  | 'id'
  | 'queue'
  | 'task'
  | 'owner'
  | 'payload'
  | 'attempts'
  | 'max_attempts'
  | 'timeout_ms'
  | 'resources'
  | 'workflow_id'
> & { ord: number; workflow_step: string | null; workflow_inputs: Record<string, unknown> | null };

/** JSON text for a json/jsonb parameter; `undefined` (no value) is stored as JSON null. */
export const toJson = (value: unknown): string => JSON.stringify(value ?? null);

export function resourcesFromRow(r: Partial<Resources>): Resources {
  return withDefaultResources(r);
}

const constraintsFromRow = (c: Partial<Constraints>): Constraints => ({ tags: c.tags ?? [] });

/** `{slots, cpu, memoryMb, gpus}` in a fixed order, whatever the caller's object held. */
export const resourcesToJson = (r: Resources): string =>
  JSON.stringify({ slots: r.slots, cpu: r.cpu, memoryMb: r.memoryMb, gpus: r.gpus });

/** A PostgreSQL array literal of GPU indices, for an `int[]` parameter element. */
export const gpusLiteral = (gpus: readonly number[]): string => `{${gpus.map((g) => Math.trunc(g)).join(',')}}`;

/** A job as the contract shows it: a step carries its workflow, and its inputs once released. */
export function jobFromRow(row: StepJobRow): Job {
  const job = plainJobFromRow(row);
  if (row.workflow_id === null || row.workflow_id === undefined) return job;
  job.workflow = { id: row.workflow_id, step: row.workflow_step ?? '', needs: row.workflow_needs ?? [] };
  if (row.workflow_inputs !== null && row.workflow_inputs !== undefined) job.inputs = row.workflow_inputs;
  return job;
}

function plainJobFromRow(row: JobRow): Job {
  return {
    id: row.id,
    queue: row.queue,
    task: row.task,
    owner: row.owner,
    payload: row.payload,
    state: row.state as JobState,
    priority: PRIORITY_CLASSES[row.priority] ?? 'normal',
    priorityLevel: row.priority_level,
    resources: resourcesFromRow(row.resources),
    constraints: constraintsFromRow(row.constraints),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    backoffMs: row.backoff_ms,
    timeoutMs: row.timeout_ms,
    runAt: row.run_at,
    idempotencyKey: row.idempotency_key,
    progress: row.progress,
    result: row.result ?? null,
    error: row.error,
    agentId: row.agent_id,
    gpus: row.gpus,
    leaseExpiresAt: row.lease_expires_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

/** The enqueue statement's parameter arrays ($1–$15), one element per job. */
export function enqueueColumns(jobs: readonly NewJob[]): unknown[][] {
  return [
    jobs.map((j) => j.id),
    jobs.map((j) => j.queue),
    jobs.map((j) => j.task),
    jobs.map((j) => j.owner),
    jobs.map((j) => toJson(j.payload)),
    jobs.map((j) => priorityRank(j.priority)),
    jobs.map((j) => j.priorityLevel),
    jobs.map((j) => resourcesToJson(j.resources)),
    jobs.map((j) => JSON.stringify({ tags: j.constraints.tags })),
    jobs.map((j) => j.maxAttempts),
    jobs.map((j) => j.backoffMs),
    jobs.map((j) => j.timeoutMs),
    jobs.map((j) => j.runAt),
    jobs.map((j) => j.idempotencyKey),
    jobs.map((j) => j.createdAt),
  ];
}

export function pendingFromRow(row: PendingRow): PendingJob {
  return {
    id: row.id,
    queue: row.queue,
    task: row.task,
    owner: row.owner,
    priority: PRIORITY_CLASSES[row.priority] ?? 'normal',
    priorityLevel: row.priority_level,
    resources: resourcesFromRow(row.resources),
    constraints: constraintsFromRow(row.constraints),
    avoidAgentId: row.avoid_agent_id,
    timeLimitMs: row.timeout_ms,
  };
}

/** `agentId` and `gpus` are the placement's, which `assign` just stored. A step carries its place and inputs. */
export function assignedFromRow(row: AssignedRow, agentId: string, gpus: number[]): AssignedJob {
  const job = plainAssignedFromRow(row, agentId, gpus);
  if (row.workflow_id === null || row.workflow_id === undefined) return job;
  job.workflow = { id: row.workflow_id, step: row.workflow_step ?? '' };
  job.inputs = row.workflow_inputs ?? {};
  return job;
}

function plainAssignedFromRow(row: AssignedRow, agentId: string, gpus: number[]): AssignedJob {
  return {
    id: row.id,
    queue: row.queue,
    task: row.task,
    owner: row.owner,
    payload: row.payload,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    agentId,
    resources: resourcesFromRow(row.resources),
    gpus,
  };
}

export function attemptFromRow(row: AttemptRow): JobAttempt {
  return {
    attempt: row.attempt,
    agentId: row.agent_id,
    assignedAt: row.assigned_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    // A job whose last lease ran out failed with LEASE_EXPIRED (see expireLeases).
    outcome: (row.on_job && row.outcome === 'failed' && row.error?.code === 'LEASE_EXPIRED'
      ? 'lease_expired'
      : row.outcome) as AttemptOutcome | null,
    error: row.error,
  };
}
