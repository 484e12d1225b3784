import type { AssignedJob, AttemptOutcome, Job, JobAttempt, JobError, JobState, NewJob, Resources } from '@baton/core';
import { PRIORITY_CLASSES, priorityRank } from '@baton/core';

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
    resources: JSON.parse(row.resources) as Resources,
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
    resources: JSON.stringify(job.resources),
    max_attempts: job.maxAttempts,
    backoff_ms: job.backoffMs,
    timeout_ms: job.timeoutMs,
    run_at: job.runAt,
    idempotency_key: job.idempotencyKey,
    created_at: job.createdAt,
    updated_at: job.createdAt,
  };
}

/** The columns `assignJob` returns. */
export type AssignedRow = Pick<
  JobRow,
  'id' | 'queue' | 'task' | 'owner' | 'payload' | 'attempts' | 'max_attempts' | 'timeout_ms'
>;

export function assignedFromRow(row: AssignedRow, agentId: string): AssignedJob {
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
