import type { JobError, JobState, PriorityClass } from '@baton/core';

export interface ClientOptions {
  /** Server URL. Default `$BATON_SERVER` or `http://127.0.0.1:7070`. */
  baseUrl?: string;
  /** Sent as `X-Baton-User`: the owner of submitted jobs. */
  user?: string;
  /** Per-request limit. Default 30 000 ms. */
  requestTimeoutMs?: number;
}

export interface SubmitOptions {
  queue?: string;
  priority?: PriorityClass;
  priorityLevel?: number;
  maxAttempts?: number;
  backoffMs?: number;
  timeoutMs?: number;
  delayMs?: number;
  runAt?: string | number;
  idempotencyKey?: string;
  resources?: { slots?: number };
}

export interface JobRequest extends SubmitOptions {
  task: string;
  payload?: unknown;
}

export interface Submitted {
  id: string;
  state: JobState;
  created: boolean;
}

export interface AttemptView {
  attempt: number;
  agentId: string;
  outcome: 'succeeded' | 'failed' | 'cancelled' | 'lease_expired' | null;
  error: JobError | null;
  assignedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A job as the API returns it (times as ISO 8601). */
export interface JobView {
  id: string;
  queue: string;
  task: string;
  owner: string;
  state: JobState;
  priority: PriorityClass;
  priorityLevel: number;
  resources: { slots: number };
  payload: unknown;
  attempts: number;
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number | null;
  idempotencyKey: string | null;
  progress: number | null;
  result: unknown;
  error: JobError | null;
  agentId: string | null;
  createdAt: string;
  runAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** Present on `getJob`. */
  history?: AttemptView[];
}

export interface QueueView {
  name: string;
  counts: Record<JobState, number>;
  oldestQueuedAgeMs: number | null;
}

export interface JobListQuery {
  state?: JobState;
  queue?: string;
  limit?: number;
  cursor?: string;
}
