import type {
  ExpectedRuntimeSource,
  JobError,
  JobState,
  PendingReasonCode,
  PoolDecision,
  PriorityClass,
} from '@baton/core';
import type { RetryOptions } from './retry.js';

export interface ClientOptions {
  /** Server URL. Default `$BATON_SERVER` or `http://127.0.0.1:7070`. */
  baseUrl?: string;
  /**
   * A Baton token, sent as `Authorization: Bearer`: a user's (`baton tokens create`) or the
   * server's admin token. Never part of an error message. Not needed by a server run with
   * `insecureNoAuth`.
   */
  token?: string;
  /**
   * Sent as `X-Baton-User`: with an admin's token, the user to act as (the owner of submitted
   * jobs); refused (403) with a user's. On a server without auth, the owner.
   */
  user?: string;
  /** Per-request limit. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /**
   * Retrying calls the server cannot serve for now (503 `STORE_UNAVAILABLE` and other 503s,
   * 429, no connection), with bounded backoff that honours `Retry-After`. Default 5 retries,
   * 250 ms doubling, at most 10 s a wait; `false` turns it off. While on, every submitted job
   * without an `idempotencyKey` gets one (`sdk-<uuid>`), so a retried submission creates its
   * job once.
   */
  retry?: RetryOptions | false;
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
  /** What the job reserves on its agent while it runs; omitted fields take their defaults. */
  resources?: {
    /** Concurrency slots, 1…1024. Default 1. */
    slots?: number;
    /** CPU cores (fractions allowed), 0…4096. Default 0: not reserved. */
    cpu?: number;
    /** Memory in MiB. Default 0: not reserved. */
    memoryMb?: number;
    /** Whole GPUs, 0…1024. Default 0. */
    gpus?: number;
  };
  /** Which agents may run the job. */
  constraints?: {
    /** Agent tags every one of which the agent must carry (`region:us-east`); at most 32. */
    tags?: string[];
  };
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
  /** What the job reserves on its agent (defaults filled in). */
  resources: JobResources;
  /** Which agents may run it. */
  constraints: { tags: string[] };
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
  /** GPU device indices of the current (or last) assignment; empty when none. */
  gpus: number[];
  createdAt: string;
  runAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** Present on `getJob`. */
  history?: AttemptView[];
  /** Present only on a workflow's step: its workflow, step id and the steps it needs. */
  workflow?: { id: string; step: string; needs: string[] };
  /** A step's inputs (its needs' results by step id), once every need succeeded. */
  inputs?: Record<string, unknown>;
  /**
   * Present on `getJob`: why a `queued` job is still waiting (null in every other state).
   * Absent from `listJobs`.
   */
  pendingReason?: PendingReasonView | null;
  /**
   * Present on `getJob`: how long the job is expected to run (ms), or null when unknown. From its
   * `timeoutMs` (`expectedRuntimeSource: 'limit'`), else the learned runtime of its class, the
   * same owner, task and resources (`'history'`: a high quantile of recent successes, for
   * placement only; a job is never stopped for running longer), else `'none'`.
   */
  expectedRuntimeMs?: number | null;
  /** Present on `getJob`: where `expectedRuntimeMs` comes from. */
  expectedRuntimeSource?: ExpectedRuntimeSource;
}

/** What a job reserves on its agent while it runs. */
export interface JobResources {
  /** Concurrency slots. */
  slots: number;
  /** CPU cores; 0 when not reserved. */
  cpu: number;
  /** Memory in MiB; 0 when not reserved. */
  memoryMb: number;
  /** Whole GPUs. */
  gpus: number;
}

/** Why a queued job has not been placed. `code` is stable; `message` is for people. */
export interface PendingReasonView {
  code: PendingReasonCode;
  message: string;
}

export interface QueueView {
  name: string;
  counts: Record<JobState, number>;
  oldestQueuedAgeMs: number | null;
}

/**
 * `GET /api/jobs` filters. A `task` listing scans a bounded window per call: a page may hold
 * fewer than `limit` jobs (even none) while `nextCursor` is non-null; page on until it is null.
 */
export interface JobListQuery {
  state?: JobState;
  queue?: string;
  /** Another user's needs an admin or viewer token (a user's own: allowed). */
  owner?: string;
  task?: string;
  /** Jobs created at or after (epoch ms). */
  since?: number;
  /** Jobs created before (epoch ms). */
  until?: number;
  limit?: number;
  cursor?: string;
}

/** A GPU of an agent, as `GET /api/agents` reports it. */
export interface AgentGpuView {
  /** Device index (`CUDA_VISIBLE_DEVICES`). */
  index: number;
  uuid: string;
  name: string;
  memoryMb: number;
  /** Unhealthy GPUs take no work. */
  healthy: boolean;
  /** Why the GPU is unhealthy, when the agent said. */
  reason?: string;
  /** The job holding this GPU, or null when free. */
  jobId: string | null;
}

/** An agent known to the server (times as ISO 8601). */
export interface AgentView {
  id: string;
  /** The name the agent registered with; its id when it gave none. */
  name: string;
  pool: string;
  /** `draining` agents finish what they hold but take no new work. */
  state: 'connected' | 'draining' | 'disconnected';
  queues: string[];
  /** Task names the agent serves, sorted. */
  tasks: string[];
  tags: string[];
  /** Concurrency slots the agent registered. */
  slots: number;
  /** Slots held by jobs now. */
  used: number;
  /** CPU cores offered to jobs; null when not declared (unlimited). */
  cpu: number | null;
  /** Memory offered to jobs, MiB; null when not declared (unlimited). */
  memoryMb: number | null;
  gpus: AgentGpuView[];
  /** Ids of the jobs the agent holds. */
  jobs: string[];
  connectedAt: string | null;
  lastSeenAt: string | null;
  disconnectedAt: string | null;
}

/** Slots of one pool, as `GET /api/capacity` reports them. */
export interface PoolCapacityView {
  /** The pool's name. */
  name: string;
  /** Slots of the pool's connected agents (draining ones included: they still run jobs). */
  capacity: number;
  /** Slots the pool should have; equal to `capacity` until autoscaling sets targets. */
  target: number;
  used: number;
  /** Slots new work can take now: free slots of connected agents that are not draining. */
  available: number;
  /** Jobs holding slots. */
  holders: number;
}

/** The fleet's capacity: the `result` of `GET /api/capacity`. */
export interface CapacityView {
  /** One entry per pool, sorted by name. */
  slots: PoolCapacityView[];
  totals: { capacity: number; used: number; available: number };
  gpus: { total: number; used: number; available: number; unhealthy: number };
}

/** One piece of a job's output. */
export interface LogChunkView {
  jobId: string;
  /** The attempt that wrote it. */
  attempt: number;
  stream: 'stdout' | 'stderr';
  data: string;
  /** Increasing per job: pass the last one seen as `after` to read on from there. */
  seq: number;
  /** When the server stored it (epoch ms). */
  at: number;
}

/** A job's kept output, as `logs()` returns it. */
export interface LogsView {
  chunks: LogChunkView[];
  /**
   * The cursor to read on from: the last stored chunk's `seq` (even one `stream` filtered
   * out), else the `after` given, else null when the job has no output yet.
   */
  lastSeq: number | null;
  /** More output may follow this page: read on with `after: lastSeq`. */
  more: boolean;
}

export interface LogsOptions {
  /** Only chunks with a `seq` greater than this. */
  after?: number;
  /** Only this stream. Default both, interleaved in the order written. */
  stream?: 'stdout' | 'stderr';
  signal?: AbortSignal;
}

export interface FollowLogsOptions extends LogsOptions {
  /** Called for each chunk as it arrives, in order. */
  onChunk?: (chunk: LogChunkView) => void;
}

/**
 * One pool's scaling decision (`GET /api/scaling`): core's decision, with the agent ids picked
 * for scale-in (`drain`: idle ones only; empty for non-admins) and `busyKept`, the agents over
 * `desired` kept because they are busy.
 */
export type PoolScalingView = PoolDecision & { drain: string[]; busyKept: number };

export interface ScalingView {
  /** When the decisions were made (epoch ms), or null before the first. */
  at: number | null;
  syncSeconds: number;
  /** False when the server has no `baton.yaml` pools: nothing is decided. */
  configured: boolean;
  pools: PoolScalingView[];
  /** Pending jobs no configured pool can run. */
  unplaceable: number;
  /** Free GPUs per pool that no pending job can use (fragmentation). */
  strandedGpus: Record<string, number>;
}
