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
import { DEFAULT_RESOURCES, PRIORITY_CLASSES, priorityRank } from '@baton/core';
import { withDefaultResources } from '../rules/resources.js';

/** A `jobs` row as better-sqlite3 returns it. */
export interface JobRow {
  id: string;
  queue: string;
  task: string;
  owner: string;
  payload: string;
  state: string;
  priority: number;
  priority_level: number;
  resources: string;
  attempts: number;
  max_attempts: number;
  backoff_ms: number;
  timeout_ms: number | null;
  run_at: number;
  idempotency_key: string | null;
  progress: number | null;
  result: string | null;
  error: string | null;
  agent_id: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  constraints: string;
  gpus: string;
  avoid_agent_id: string | null;
  /** Migration 10: the step's workflow, or null for a plain job. */
  workflow_id: string | null;
}

export interface AttemptRow {
  attempt: number;
  agent_id: string;
  assigned_at: number;
  started_at: number | null;
  finished_at: number | null;
  outcome: string | null;
  error: string | null;
}

const parseJson = (text: string | null): unknown => (text === null ? null : JSON.parse(text));
const toJson = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/**
 * Resources as stored: `slots`, plus only the fields that differ from their default, so a
 * plain CPU job's row is no bigger than before resource-aware scheduling.
 */
export function resourcesToJson(r: Resources): string {
  // Every default is 0 but slots'; a truthiness test also keeps a missing field out of the text.
  let text = `{"slots":${JSON.stringify(r.slots)}`;
  if (r.cpu) text += `,"cpu":${JSON.stringify(r.cpu)}`;
  if (r.memoryMb) text += `,"memoryMb":${JSON.stringify(r.memoryMb)}`;
  if (r.gpus) text += `,"gpus":${JSON.stringify(r.gpus)}`;
  return `${text}}`;
}

/** How resourcesToJson writes DEFAULT_RESOURCES: most jobs' resources. */
const DEFAULT_RESOURCES_JSON = resourcesToJson(DEFAULT_RESOURCES);

/** Stored resources with every field present; rows written before migration 2 hold only `slots`. */
export function resourcesFromJson(text: string): Resources {
  if (text === DEFAULT_RESOURCES_JSON) return { ...DEFAULT_RESOURCES };
  const r = JSON.parse(text) as Partial<Resources>;
  return withDefaultResources(r);
}

const NO_CONSTRAINTS = '{"tags":[]}';
const NO_GPUS = '[]';

export function constraintsToJson(c: Constraints): string {
  return c.tags.length === 0 ? NO_CONSTRAINTS : JSON.stringify({ tags: c.tags });
}

/** The common cases (no tags, no GPUs) skip JSON.parse: they are most rows. */
export function constraintsFromJson(text: string): Constraints {
  if (text === NO_CONSTRAINTS) return { tags: [] };
  const c = JSON.parse(text) as Partial<Constraints>;
  return { tags: c.tags ?? [] };
}

export function gpusToJson(gpus: readonly number[]): string {
  return gpus.length === 0 ? NO_GPUS : JSON.stringify(gpus);
}

export function gpusFromJson(text: string): number[] {
  return text === NO_GPUS ? [] : (JSON.parse(text) as number[]);
}

export function jobFromRow(row: JobRow): Job {
  return {
    id: row.id,
    queue: row.queue,
    task: row.task,
    owner: row.owner,
    payload: parseJson(row.payload),
    state: row.state as JobState,
    priority: PRIORITY_CLASSES[row.priority] ?? 'normal',
    priorityLevel: row.priority_level,
    resources: resourcesFromJson(row.resources),
    constraints: constraintsFromJson(row.constraints),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    backoffMs: row.backoff_ms,
    timeoutMs: row.timeout_ms,
    runAt: row.run_at,
    idempotencyKey: row.idempotency_key,
    progress: row.progress,
    result: parseJson(row.result),
    error: parseJson(row.error) as JobError | null,
    agentId: row.agent_id,
    gpus: gpusFromJson(row.gpus),
    leaseExpiresAt: row.lease_expires_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

export function rowFromNewJob(job: NewJob, state: JobState): Record<string, unknown> {
  return {
    id: job.id,
    queue: job.queue,
    task: job.task,
    owner: job.owner,
    payload: toJson(job.payload ?? null),
    state,
    priority: priorityRank(job.priority),
    priority_level: job.priorityLevel,
    resources: resourcesToJson(job.resources),
    constraints: constraintsToJson(job.constraints),
    max_attempts: job.maxAttempts,
    backoff_ms: job.backoffMs,
    timeout_ms: job.timeoutMs,
    run_at: job.runAt,
    idempotency_key: job.idempotencyKey,
    created_at: job.createdAt,
    updated_at: job.createdAt,
  };
}

/** The columns `pending` returns. */
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

export function pendingFromRow(row: PendingRow): PendingJob {
  return {
    id: row.id,
    queue: row.queue,
    task: row.task,
    owner: row.owner,
    priority: PRIORITY_CLASSES[row.priority] ?? 'normal',
    priorityLevel: row.priority_level,
    resources: resourcesFromJson(row.resources),
    constraints: constraintsFromJson(row.constraints),
    avoidAgentId: row.avoid_agent_id,
    timeLimitMs: row.timeout_ms,
  };
}

/** The columns `assignJob` returns. */
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
>;

/** `gpus` are the placement's, which `assignJob` just stored. */
export function assignedFromRow(row: AssignedRow, agentId: string, gpus: number[]): AssignedJob {
  return {
    id: row.id,
    queue: row.queue,
    task: row.task,
    owner: row.owner,
    payload: parseJson(row.payload),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    agentId,
    resources: resourcesFromJson(row.resources),
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
    outcome: row.outcome as AttemptOutcome | null,
    error: parseJson(row.error) as JobError | null,
  };
}

export { toJson };
