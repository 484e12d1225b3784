import type {
  Completion,
  Job,
  JobAssignment,
  JobAttempt,
  JobError,
  JobState,
  LeaseRef,
  LogChunk,
  NewJob,
  PendingJob,
  PriorityClass,
  Placement,
  Resources,
  TransitionResult,
} from '@baton/core';
import type { Accounts } from './accounts.js';
import type { Coordination } from './coordination.js';
import type { FairShareStore } from './fair-share.js';
import type { RuntimeSamples } from './runtime-samples.js';
import type { Workflows } from './workflows.js';

/** The states a job ends in; retention deletes jobs in these only. */
export type FinalJobState = 'succeeded' | 'failed' | 'cancelled';

/**
 * The store contract: every state transition that must be atomic is one call here, and
 * every hot-path call takes many jobs at once. Nothing outside this package knows which
 * backend implements it. Time comes from the store's clock (see {@link StoreOptions}) so the
 * conformance suite can drive delays and lease expiry without sleeping.
 */
export interface Store extends Coordination, Accounts, FairShareStore, RuntimeSamples, Workflows {
  readonly backend: 'sqlite' | 'postgres' | 'redis';

  /** Creates or migrates the schema. Refuses a schema newer than this code knows. */
  init(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  /** Cheap round trip, for readiness checks. */
  ping(): Promise<void>;

  /**
   * Creates jobs. A job whose (owner, idempotencyKey) already exists is not created again:
   * the existing job is returned with `created: false`. Results are in input order.
   */
  enqueue(jobs: NewJob[]): Promise<EnqueueResult[]>;
  getJob(id: string): Promise<Job | null>;
  getAttempts(id: string): Promise<JobAttempt[]>;
  /** Newest first; `cursor` is the `nextCursor` of the previous page. */
  listJobs(query: JobListQuery): Promise<JobPage>;
  queueStats(): Promise<QueueStats[]>;
  /**
   * Cancels a job that is not final. A leased job's lease is revoked, so its agent's
   * report is refused; the `cancelled` event tells the agent to stop.
   */
  cancel(id: string): Promise<Job>;

  /**
   * Moves delayed jobs whose time has come to `queued`, and answers when the next one is due.
   * A call may stop after a batch (1 000 on PostgreSQL and Redis; SQLite moves every due job
   * in one statement), so one call stays short however many are due: when more are due, its
   * `nextRunAt` is already due (not after the store's clock), and the caller calls again.
   */
  promoteDue(): Promise<{ promoted: number; nextRunAt: number | null }>;
  /** The best queued jobs of each queue, in scheduling order. */
  pending(requests: PendingRequest[]): Promise<PendingJob[]>;
  /**
   * Hands queued jobs to agents under a new lease, counting an attempt. A job that is no
   * longer queued is skipped, so a stale placement can never assign a job twice.
   *
   * Quotas: a placement that would take its job's owner over `maxRunningJobs` (jobs assigned
   * or running) or `maxGpus` (their GPUs) of the owner's quota (their own, else the default;
   * see {@link Accounts.getQuota}) is skipped too, checked atomically with the assignment, so
   * schedulers on many servers together never overshoot a quota. Placements are taken in the
   * order given: an earlier one of the same owner counts against a later one.
   */
  assign(placements: Placement[], leaseMs: number): Promise<JobAssignment[]>;
  /**
   * Requeues (or, with attempts exhausted, fails) jobs whose lease ran out: their agent died
   * or lost touch. Returns what it did and when the next lease runs out. Like
   * {@link promoteDue}, a call handles at most a batch (1 000 on every backend): when more
   * leases have run out, its `nextExpiryAt` is already due, and the caller calls again.
   */
  expireLeases(): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }>;

  /** assigned → running. */
  start(items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]>;
  /** Renews leases and records progress. */
  heartbeat(items: (LeaseRef & { progress?: number })[], leaseMs: number): Promise<TransitionResult[]>;
  /**
   * Records outcomes. A failure with attempts left (and retryable) goes back to `delayed`
   * with backoff, or `queued` when the backoff is zero. A stale lease token is refused.
   */
  complete(items: Completion[]): Promise<TransitionResult[]>;
  /**
   * Ends leased jobs' current attempts now, without waiting for their leases (a GPU failed
   * under them, the agent was declared dead): each goes back to `queued` with no backoff, or
   * to `failed` when its attempts are exhausted. A stale lease token is refused.
   *
   * With `leaseExpiresBy` (epoch ms: the lease expiry the caller last saw), the release is
   * conditional: a job whose lease now ends after it was renewed since (its agent came back,
   * perhaps on another server) and is left as it is, refused with `LEASE_RENEWED`. The check
   * is made in the same atomic step as the release, so no renewal can slip in between. The
   * other refusals come first: an unknown, cancelled, finished or reassigned job is refused as
   * without it; `LEASE_RENEWED` only ever answers a current lease token. A `leaseExpiresBy`
   * that is not a finite number is a `ValidationError`. Without it, the release is unconditional.
   */
  release(items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[]): Promise<TransitionResult[]>;

  /** Appends job output. Only the newest `logTailBytes` of each job are kept. */
  appendLogs(chunks: LogChunk[]): Promise<void>;
  /**
   * A page of a job's kept output, oldest first: with `afterSeq`, only chunks after it (for
   * following); at most `limit` chunks (default {@link DEFAULT_LOG_PAGE}, at most
   * {@link MAX_LOG_PAGE}), so one call's cost is bounded however many small chunks a job
   * wrote. A page of `limit` chunks may have more after it: call again from its last `seq`.
   * A `limit` that is not a positive integer is a `ValidationError`.
   */
  getLogs(jobId: string, afterSeq?: number, limit?: number): Promise<StoredLogChunk[]>;

  /**
   * Retention: deletes up to `limit` jobs in a final state (`succeeded`, `failed`,
   * `cancelled`) whose `finishedAt` is before `finishedBefore` (epoch ms, chosen by the caller;
   * the store's clock is not consulted), oldest first: by `finishedAt` (ties by id) on
   * PostgreSQL and Redis; SQLite takes them in creation (id) order, sparing every completion an
   * index write. A job goes
   * with everything that belongs to it: its attempt history, its kept output (logs and tail)
   * and its idempotency key, which is free afterwards, so enqueueing that (owner, key) again
   * creates a new job. Deleted jobs read as unknown (`getJob` is null) and leave every
   * listing and `queueStats` count. A job that is not final is never touched.
   *
   * Each deleted job goes atomically; a backend may delete a batch in several steps, so a
   * concurrent caller can take some of the same jobs, and each job is counted once, by the
   * call that deleted it. Call it again while `deleted === limit` to drain a backlog. A
   * `limit` below 1 deletes nothing; a `finishedBefore` that is not a finite number, or a
   * `limit` that is not an integer, is a `ValidationError`. Emits no event.
   *
   * With `state`, only jobs in that final state are candidates (each state may have its own
   * retention); any other `state` is a `ValidationError`. SQLite then looks at the state's
   * 10 000 (or `limit`) oldest-created jobs only, so a call stays cheap with nothing due. SQLite truncates its write-ahead log
   * after a call that deleted many jobs (see the README), so the file shrinks back on disk.
   */
  deleteFinished(finishedBefore: number, limit: number, state?: FinalJobState): Promise<{ deleted: number }>;

  /**
   * Records which tasks are served on which queues (agents announce them on register). With
   * `ttlMs`, each route is live until the store's clock plus `ttlMs` (its server refreshes the
   * routes of its connected agents, so those of an agent gone with its server lapse); without
   * it, live forever. The newest registration decides between forever and expiring: one
   * without `ttlMs` makes the route forever, one with it makes a forever route expire at now +
   * `ttlMs` (servers register with a ttl, so the forever routes of agents that left lapse) and
   * extends an expiring one, never shortening it (the later expiry wins). Announces a `routes` event only when some route became live that was
   * not (new, or expired and back), so servers refreshing their agents' routes every few
   * seconds do not make every server re-read routes. A `ttlMs` that is not a positive integer
   * is a `ValidationError`, and nothing is registered.
   */
  registerTasks(tasks: TaskRoute[], ttlMs?: number): Promise<void>;
  /**
   * The live routes (expiry null or after the store's clock), by task then queue. Expired
   * routes are deleted lazily, a bounded number per call, so they do not pile up.
   */
  taskRoutes(): Promise<StoredTaskRoute[]>;

  /** Wake-ups for schedulers and event streams. Returns an unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void;
}

/** A placement offered to the server of its agent, with what the job needs, for admission. */
export interface Offer extends Placement {
  resources: Resources;
  /** The job's priority class, kept with the job on its agent: preemption picks victims by it. */
  priority?: PriorityClass;
  /** Who submitted the job, kept likewise. */
  owner?: string;
  /**
   * For a job without a timeout: its class's learned runtime (ms), which the scheduler planned
   * with. Its agent's server counts the job's room back by then in the agent's `releases`; it is
   * never a limit, and never reaches the agent.
   */
  expectedRuntimeMs?: number;
}

export interface StoredLogChunk extends LogChunk {
  /** Increasing per job; the cursor for following. */
  seq: number;
  /** When the store took it (epoch ms). */
  at: number;
}

export interface EnqueueResult {
  job: Job;
  created: boolean;
}

/**
 * A listing's filters, all optional, newest first. `createdSince` (inclusive) and
 * `createdBefore` (exclusive) bound `createdAt` (epoch ms) through the time in the job's id,
 * which is its `createdAt`, so every backend answers them as a range of its id index.
 *
 * `task` has no index of its own: a backend scans at most {@link TASK_SCAN_WINDOW} jobs of the
 * other filters' index per call (2 000), so **a page may hold fewer than `limit` jobs (even none)
 * while `nextCursor` is non-null**: the scan stopped, more may match further back. Callers
 * page on until `nextCursor` is null, as they would anyway.
 */
export interface JobListQuery {
  state?: JobState;
  queue?: string;
  owner?: string;
  task?: string;
  /** Jobs created at or after this time (epoch ms). */
  createdSince?: number;
  /** Jobs created before this time (epoch ms). */
  createdBefore?: number;
  limit: number;
  cursor?: string;
}

export interface JobPage {
  jobs: Job[];
  nextCursor: string | null;
}

export interface QueueStats {
  queue: string;
  counts: Record<JobState, number>;
  /** Age of the job that has waited longest in `queued`, or null when none waits. */
  oldestQueuedAgeMs: number | null;
}

export interface PendingRequest {
  queue: string;
  limit: number;
  /**
   * Up to `limit` queued jobs of each owner that has any queued in the queue (each owner's in
   * scheduling order), so fair share sees every owner's head however long another's backlog
   * is. Cannot be combined with `after` (a `ValidationError`).
   */
  perOwner?: boolean;
  /**
   * Only jobs after this one in scheduling order (a keyset cursor: the last job of an earlier
   * read, queued or not), so a scheduler can page past jobs it found unplaceable at the
   * cost of the page alone.
   */
  after?: PendingCursor;
}

/** A position in a queue's scheduling order: priority class, level (higher first), then id. */
export interface PendingCursor {
  priority: PriorityClass;
  priorityLevel: number;
  id: string;
}

export interface TaskRoute {
  task: string;
  queue: string;
}

/** A registered route: live until `expiresAt` (epoch ms, store clock), or forever when null. */
export interface StoredTaskRoute extends TaskRoute {
  expiresAt: number | null;
}

/**
 * What a store announces. Backends deliver them across processes (NOTIFY, pub/sub).
 * `dueAt` is present exactly when the change made jobs `delayed` (an enqueue with a future
 * `runAt`, a failure retried with backoff): the earliest run time among them, so a scheduler
 * can sleep until then instead of sweeping on every wake-up. Other changes carry none.
 */
export type StoreEvent =
  | { type: 'enqueued'; queues: string[]; dueAt?: number }
  /** Capacity or work may have changed: jobs finished, requeued or promoted. */
  | { type: 'changed'; dueAt?: number }
  | { type: 'cancelled'; jobId: string; agentId: string | null }
  /** New output for a job: followers read it with `getLogs(jobId, afterSeq)`. */
  | { type: 'logs'; jobId: string }
  /**
   * A scheduler's placements for agents connected to server `serverId`, sent with `publish`:
   * that server admits what its agents still have room for and assigns it.
   */
  | { type: 'offer'; serverId: string; placements: Offer[] }
  /**
   * A scheduler preempts running jobs on agents of server `serverId` (for a waiting job of a
   * higher class): that server tells the agents to stop them.
   */
  | { type: 'preempt'; serverId: string; victims: { jobId: string; agentId: string }[] }
  /** Server `serverId` reported new free capacity of its agents (see `putAgents`). */
  | { type: 'capacity'; serverId: string }
  /** A task route became live (new, or expired and back): a cache of `taskRoutes()` is out of date. */
  | { type: 'routes' };

export interface StoreOptions {
  /** Clock in epoch ms. Default `Date.now`. */
  clock?: () => number;
  /** Random source for retry jitter. Default `Math.random`. */
  random?: () => number;
  /** Output kept per job, in bytes of text; older chunks are dropped. Default 256 KiB. */
  logTailBytes?: number;
}
