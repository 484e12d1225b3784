import type { Constraints, PriorityClass, Resources } from './job.js';

/** A queued job as the scheduler sees it. */
export interface PendingJob {
  id: string;
  queue: string;
  task: string;
  priority: PriorityClass;
  priorityLevel: number;
  resources: Resources;
  constraints: Constraints;
  /**
   * The agent whose lease on this job last expired (it died or lost touch), or null. Placement
   * prefers any other agent, so a job does not go back to a machine that just failed it.
   */
  avoidAgentId: string | null;
  /**
   * Who submitted it: fair share orders owners within a priority class. Every store fills it;
   * absent (a simulated job), all such jobs count as one owner.
   */
  owner?: string;
  /**
   * How long an attempt of this job may run at most (ms), or null/absent when unbounded: the
   * server fills it from the job's `timeoutMs`, since a longer attempt is killed. With
   * {@link AgentCapacity.releases} and `now` given to `place()`, a job with a limit may use the
   * free room of an agent held for a blocked larger job when it ends before that job could
   * start there (EASY backfill). Absent, the job never uses a held agent's GPUs.
   */
  timeLimitMs?: number | null;
}

/**
 * Room that jobs running on an agent give back by `atMs` at the latest: the job's start plus
 * its time limit. One entry per running job (or several jobs ending together, summed).
 */
export interface CapacityRelease {
  /** Epoch ms by which the room is free at the latest; `Infinity` (or leave it out) when unknown. */
  atMs: number;
  slots: number;
  gpus: number;
  /** Default 0. */
  cpu?: number;
  /** Default 0. */
  memoryMb?: number;
}

/**
 * A job running on an agent, as a scheduler choosing preemption victims sees it. Listed for
 * preemptible agents only: their jobs are the only ones preemption may stop.
 */
export interface RunningJobView {
  jobId: string;
  /** Its class; null when unknown (re-adopted after a reconnect): such a job is never preempted. */
  priority: PriorityClass | null;
  /** Who submitted it; null when unknown. */
  owner: string | null;
  /** When it was handed to the agent (epoch ms): its runtime so far, against `minRuntimeMs`. */
  startedAt: number;
  slots: number;
  cpu: number;
  memoryMb: number;
  gpus: readonly number[];
  /** Already told to stop for a preemption: its room comes back once its handler has stopped. */
  preempting?: boolean;
}

/** An agent's free capacity as the scheduler sees it. */
export interface AgentCapacity {
  id: string;
  /** Pool the agent belongs to (default `default`). */
  pool: string;
  queues: readonly string[];
  /** Task names the agent can run: a job is placed only where its task is served. */
  tasks: ReadonlySet<string>;
  /** Tags the agent declared (`region:us-east`, `cpu:high`). */
  tags: readonly string[];
  freeSlots: number;
  freeCpu: number;
  freeMemoryMb: number;
  /** Indices of healthy GPUs not held by any job, ascending. */
  freeGpus: readonly number[];
  /** Healthy GPUs on the agent, held or free. 0 for a CPU-only agent. */
  gpuCount: number;
  /** Totals the agent registered, for telling "never fits" from "not now". */
  total: Resources;
  /**
   * When the room held by its running jobs comes back at the latest (see {@link CapacityRelease}).
   * Room not listed is taken never to come back. Optional: without it a held agent is never
   * backfilled, and reservations are chosen as if no job had a limit.
   */
  releases?: readonly CapacityRelease[];
  /**
   * The priority classes the agent takes when it is dedicated to some (`--priorities`); absent,
   * every class. A job of another class is never placed here.
   */
  priorities?: readonly PriorityClass[];
  /** Its running jobs may be preempted for a waiting job of a higher class (`--preemptible`). */
  preemptible?: boolean;
  /** A preemptible agent's: a job that has run less than this (ms) is not preempted. */
  minRuntimeMs?: number;
  /** A preemptible agent's: how long a preempted job takes at most to give its room back (ms). */
  preemptGraceMs?: number;
  /** The jobs running on a preemptible agent (absent on other agents). */
  running?: readonly RunningJobView[];
}

/** One decision: run `jobId` on `agentId`, on these GPU device indices. */
export interface Placement {
  jobId: string;
  agentId: string;
  gpus: number[];
}

/**
 * Why a job is still pending, as the last placement pass saw it. Codes are stable; messages
 * are for people.
 */
export type PendingReasonCode =
  /** No connected agent takes work from the job's queue. */
  | 'NO_AGENT_FOR_QUEUE'
  /** Agents take the queue, but none serves the job's task. */
  | 'NO_AGENT_FOR_TASK'
  /** No agent of the queue carries every required tag. */
  | 'NO_AGENT_WITH_TAGS'
  /** No eligible agent is big enough, even when idle. */
  | 'RESOURCES_EXCEED_AGENTS'
  /** Eligible agents exist but have no room free now. */
  | 'WAITING_FOR_CAPACITY'
  /** Room was held back for an earlier large job (head-of-line reservation). */
  | 'RESERVED_FOR_LARGER_JOB'
  /** Jobs ahead of it in order took the room. */
  | 'BEHIND_HIGHER_PRIORITY'
  /** Its owner runs as many jobs as their quota allows (`maxRunningJobs`). */
  | 'QUOTA_MAX_RUNNING'
  /** Its owner's running jobs hold as many GPUs as their quota allows (`maxGpus`). */
  | 'QUOTA_MAX_GPUS'
  /** Other users' jobs come first under fair share (their recent usage against weight is lower). */
  | 'FAIR_SHARE'
  /** A higher-class job preempted running work for it; the room frees once the victims stop. */
  | 'WAITING_FOR_PREEMPTION'
  /** Agents of its queue exist, but each is dedicated to other priority classes. */
  | 'NO_AGENT_FOR_PRIORITY';

export interface PendingReason {
  code: PendingReasonCode;
  message: string;
}

export interface PlacementResult {
  placements: Placement[];
  /** Why each job given but not placed is still pending. */
  pending: Map<string, PendingReason>;
}
