/**
 * The job model shared by every package. A job moves through
 * `delayed → queued → assigned → running → succeeded | failed | cancelled`,
 * with `running → delayed | queued` on a retry or when its lease expires. A workflow step
 * begins `blocked` while steps it needs are unfinished, and ends `skipped` when one of them
 * did not succeed (see workflow.ts).
 */

/**
 * Every state a job can be in. `succeeded`, `failed`, `cancelled` and `skipped` are final.
 * `blocked` and `skipped` belong to workflow steps only.
 */
export const JOB_STATES = [
  'blocked',
  'delayed',
  'queued',
  'assigned',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const FINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);
/** States in which an agent holds the job under a lease. */
export const LEASED_STATES: ReadonlySet<JobState> = new Set(['assigned', 'running']);

export const PRIORITY_CLASSES = ['high', 'normal', 'low'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/** Sort rank of a priority class: lower runs first. */
export function priorityRank(priority: PriorityClass): number {
  return PRIORITY_CLASSES.indexOf(priority);
}

/**
 * What a job needs from an agent while it runs. Every field is reserved on the agent for the
 * job's lifetime; GPUs are whole devices, handed to the task by index.
 */
export interface Resources {
  /** Concurrency slots. Default 1. */
  slots: number;
  /** CPU cores (fractions allowed). Default 0: not reserved. */
  cpu: number;
  /** Memory in MiB. Default 0: not reserved. */
  memoryMb: number;
  /** Whole GPUs. Default 0. */
  gpus: number;
}

export const DEFAULT_RESOURCES: Readonly<Resources> = { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 };

/** Which agents may run a job: every listed tag must be on the agent (`region:us-east`). */
export interface Constraints {
  tags: string[];
}

/** An error recorded on a job or an attempt. Same shape whatever the backend. */
export interface JobError {
  code: string;
  message: string;
  retryable: boolean;
}

/** Everything the store needs to create a job; produced by the API edge after validation. */
export interface NewJob {
  id: string;
  queue: string;
  task: string;
  owner: string;
  payload: unknown;
  priority: PriorityClass;
  /** Order inside a priority class: higher runs first. */
  priorityLevel: number;
  resources: Resources;
  constraints: Constraints;
  maxAttempts: number;
  /** Base of the exponential retry backoff. */
  backoffMs: number;
  timeoutMs: number | null;
  /** When the job becomes eligible to run (epoch ms). */
  runAt: number;
  idempotencyKey: string | null;
  createdAt: number;
  /** Present only on a workflow's step: which workflow and step, and the steps it needs. */
  workflow?: JobWorkflowRef;
}

/** A step's place in its workflow, as its job carries it. */
export interface JobWorkflowRef {
  id: string;
  step: string;
  /** Ids of the steps whose results it takes as inputs. */
  needs: string[];
}

export interface Job extends NewJob {
  state: JobState;
  /** How many times the job has been handed to an agent. */
  attempts: number;
  /** 0–100, as last reported by the task. */
  progress: number | null;
  result: unknown;
  error: JobError | null;
  agentId: string | null;
  /** GPU device indices of the current (or last) assignment; empty when none. */
  gpus: number[];
  leaseExpiresAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
  /**
   * A workflow step's inputs: the results of the steps it needs, by step id. Present only on
   * a step, once it was released (every need succeeded).
   */
  inputs?: Record<string, unknown>;
}

/** `preempted`: stopped for a higher-class job; the attempt was not spent (see `Store.preempt`). */
export const ATTEMPT_OUTCOMES = ['succeeded', 'failed', 'cancelled', 'lease_expired', 'preempted'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One hand-over of a job to an agent, kept as history. */
export interface JobAttempt {
  attempt: number;
  agentId: string;
  assignedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  outcome: AttemptOutcome | null;
  error: JobError | null;
}

/** What an agent needs to run a job: no more, so hand-over stays cheap. */
export interface AssignedJob {
  id: string;
  queue: string;
  task: string;
  owner: string;
  payload: unknown;
  /** This attempt's number (1 for the first). */
  attempts: number;
  maxAttempts: number;
  timeoutMs: number | null;
  agentId: string;
  resources: Resources;
  /** GPU device indices reserved for this attempt (`CUDA_VISIBLE_DEVICES`). */
  gpus: number[];
  /** Present only on a workflow step: its workflow and step id. */
  workflow?: { id: string; step: string };
  /** A workflow step's inputs: the results of the steps it needs, by step id. */
  inputs?: Record<string, unknown>;
}

/** A job as handed to an agent: its lease token must accompany every report about it. */
export interface JobAssignment {
  job: AssignedJob;
  leaseToken: string;
}
