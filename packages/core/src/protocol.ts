import type { JobAssignment, JobError, JobState, PriorityClass, Resources } from './job.js';
import type { AddStepsRequest, AddedSteps } from './workflow-growth.js';

/**
 * The agent protocol: the only way work reaches an agent and outcomes leave it. Agents
 * never hold store credentials. The in-process link of `baton dev` implements it directly;
 * a WebSocket link implements the same interface for remote agents.
 */

/** One GPU as an agent sees it (nvidia-smi, or declared with `--gpus N`). */
export interface GpuDevice {
  index: number;
  uuid: string;
  name: string;
  memoryMb: number;
  healthy: boolean;
}

/** A change in a GPU's health, reported by its agent. */
export interface GpuHealth {
  index: number;
  healthy: boolean;
  /** Why it is unhealthy, for people (`XID 79`, `health file`). */
  reason?: string;
}

/** A job an agent still runs when it reconnects: enough for the server to account for it. */
export interface HeldJob {
  jobId: string;
  leaseToken: string;
  resources: Resources;
  gpus: number[];
}

export interface AgentRegistration {
  /** Stable name, if the agent has one; the server assigns an id otherwise. */
  name?: string;
  /** Pool the agent belongs to. Default `default`. */
  pool?: string;
  queues: string[];
  /** Task names this agent can run, with the queue each is served on. */
  tasks: { task: string; queue: string }[];
  /** How many jobs (slots) the agent runs at once. */
  slots: number;
  /** CPU cores offered to jobs. Default: unlimited for jobs that ask none. */
  cpu?: number;
  /** Memory offered to jobs, MiB. */
  memoryMb?: number;
  /** Tags jobs can require (`region:us-east`). */
  tags?: string[];
  gpus?: GpuDevice[];
  /**
   * Priority classes the agent takes, when it is dedicated to some (`--priorities high`).
   * Absent (or every class): it takes work of any class.
   */
  priorities?: PriorityClass[];
  /**
   * Its running jobs may be stopped for a waiting job of a higher class that fits nowhere else
   * (`--preemptible`). Never with `priorities`: a dedicated agent is not preemptible.
   */
  preemptible?: boolean;
  /** After a preemption's abort, how long a job's handler has before it is given up on (ms). */
  preemptGraceMs?: number;
  /** A job that has run less than this here (ms) is not preempted. */
  minRuntimeMs?: number;
  /**
   * Set when an agent reconnects: its id from before, the jobs it still runs, and the
   * `resumeSecret` its registration returned. Jobs whose lease is still current stay with it;
   * the rest are listed in `RegisteredAgent.abort`. A server that still has a session for that
   * id refuses a resume without the session's secret (`RESUME_REFUSED`): ids are public.
   */
  resume?: { agentId: string; jobs: HeldJob[]; secret?: string };
}

export interface RegisteredAgent {
  agentId: string;
  leaseMs: number;
  heartbeatMs: number;
  /** Jobs of `resume` whose lease is gone (they run elsewhere now): the agent must stop them. */
  abort?: string[];
  /**
   * The secret a later `resume` must present (random, 256 bits; a resume that brought one to a
   * server without the session keeps it). Keep it private: it lets its holder take the session.
   */
  resumeSecret: string;
}

/** Output of a running job, as the agent captured it. */
export interface LogChunk {
  jobId: string;
  /** The attempt that wrote it. */
  attempt: number;
  stream: 'stdout' | 'stderr';
  data: string;
}

/** What the server pushes to an agent. */
export interface AgentInbox {
  /** New work for this agent. */
  deliver(assignments: JobAssignment[]): void;
  /**
   * Stop these jobs (cancelled, or their lease was lost). With `preempt`, they are stopped for
   * a higher-class job: the agent gives each its `preemptGraceMs` instead of the task's grace.
   */
  abort(jobIds: string[], reason: string, options?: AbortOptions): void;
  /** The jobs the agent runs now, for re-registering after a lost connection. */
  held(): HeldJob[];
}

export interface AbortOptions {
  preempt?: boolean;
}

export interface LeaseRef {
  jobId: string;
  leaseToken: string;
}

/**
 * The outcome of an attempt. `startedAt` (epoch ms) is given when the agent never reported the
 * start: a job that finishes within the agent's start-report window goes from `assigned` to its
 * outcome in one store call, saving a transition per job on the hot path.
 */
export type Completion =
  | (LeaseRef & { outcome: 'succeeded'; result: unknown; startedAt?: number })
  | (LeaseRef & { outcome: 'failed'; error: JobError; startedAt?: number });

/** The store's answer to one report about one job. */
export type TransitionResult =
  | { jobId: string; ok: true; state: JobState }
  | {
      jobId: string;
      ok: false;
      code: TransitionRefusal;
      message: string;
      /** With `FINISHED`: the state the job ended in, so a repeated report can tell its own commit. */
      state?: JobState;
    };

/**
 * Why a report was refused. `STALE_LEASE`: the job was retried or reassigned meanwhile.
 * `LEASE_RENEWED`: a conditional release (`leaseExpiresBy`) found the lease renewed since the
 * caller last saw it (its agent is alive somewhere), so the job was left running.
 */
export type TransitionRefusal = 'NOT_FOUND' | 'STALE_LEASE' | 'CANCELLED' | 'FINISHED' | 'LEASE_RENEWED';

/** What an agent may tell the server. Every call is batched: many jobs per call. */
export interface AgentLink {
  register(registration: AgentRegistration, inbox: AgentInbox): Promise<RegisteredAgent>;
  started(items: LeaseRef[]): Promise<TransitionResult[]>;
  /** Heartbeat: renews the leases of the listed jobs; `progress` is 0–100. */
  heartbeat(items: (LeaseRef & { progress?: number })[]): Promise<TransitionResult[]>;
  complete(items: Completion[]): Promise<TransitionResult[]>;
  /** Output of running jobs, batched; kept as a tail per job and streamed to followers. */
  logs(chunks: LogChunk[]): Promise<void>;
  /** GPU health changed: unhealthy GPUs leave capacity and the jobs on them move elsewhere. */
  gpuHealth(gpus: GpuHealth[]): Promise<void>;
  /**
   * A running step grows its workflow (a campaign): the steps are checked as a workflow
   * submission's are, then added in one atomic step, only while `jobId`'s lease is
   * `leaseToken`. Rejects with the refusal's code (`STALE_LEASE`, `DUPLICATE_STEP`, …);
   * nothing is added then. See workflow-growth.ts.
   */
  addSteps(request: AddStepsRequest): Promise<AddedSteps>;
  /** The agent is draining: no new work reaches it; running jobs may finish. */
  drain(): Promise<void>;
  /** Leaves the fleet; jobs still held are released by lease expiry. */
  unregister(): Promise<void>;
}
