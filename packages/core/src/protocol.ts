import type { JobAssignment, JobError, JobState } from './job.js';

/**
 * The agent protocol: the only way work reaches an agent and outcomes leave it. Agents
 * never hold store credentials. The in-process link of `baton dev` implements it directly;
 * a WebSocket link implements the same interface for remote agents.
 */

export interface AgentRegistration {
  /** Stable name, if the agent has one; the server assigns an id otherwise. */
  name?: string;
  queues: string[];
  /** Task names this agent can run, with the queue each is served on. */
  tasks: { task: string; queue: string }[];
  /** How many jobs (slots) the agent runs at once. */
  slots: number;
}

export interface RegisteredAgent {
  agentId: string;
  leaseMs: number;
  heartbeatMs: number;
}

/** What the server pushes to an agent. */
export interface AgentInbox {
  /** New work for this agent. */
  deliver(assignments: JobAssignment[]): void;
  /** Stop these jobs (cancelled, or their lease was lost). */
  abort(jobIds: string[], reason: string): void;
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
  | { jobId: string; ok: false; code: TransitionRefusal; message: string };

/** Why a report was refused. `STALE_LEASE`: the job was retried or reassigned meanwhile. */
export type TransitionRefusal = 'NOT_FOUND' | 'STALE_LEASE' | 'CANCELLED' | 'FINISHED';

/** What an agent may tell the server. Every call is batched: many jobs per call. */
export interface AgentLink {
  register(registration: AgentRegistration, inbox: AgentInbox): Promise<RegisteredAgent>;
  started(items: LeaseRef[]): Promise<TransitionResult[]>;
  /** Heartbeat: renews the leases of the listed jobs; `progress` is 0–100. */
  heartbeat(items: (LeaseRef & { progress?: number })[]): Promise<TransitionResult[]>;
  complete(items: Completion[]): Promise<TransitionResult[]>;
  /** Leaves the fleet; jobs still held are released by lease expiry. */
  unregister(): Promise<void>;
}
