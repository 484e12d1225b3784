import type { JobAssignment, JobState, TransitionResult } from '@baton/core';

/** Why a job went back to the queue without its agent reporting an outcome. */
export type FailoverReason = 'agent_lost' | 'lease_expired' | 'gpu_unhealthy';

/** What a job held on its agent, as far as the metrics need it. */
export interface HeldForMetrics {
  queue?: string | null;
  startedAt?: number;
}

/**
 * The events this server's own counters and histograms count, as the places where they happen
 * report them (agent reports, liveness, GPU failover, the scheduler, the API). Each call is an
 * increment or an observation: nothing here may slow the hot path. Optional everywhere: a server
 * with metrics off passes none.
 */
export interface JobMetrics {
  /**
   * A job reached a final state through this server. `startedAt` (this server's clock, when
   * the job was handed to its agent) adds its run time to the duration histogram.
   */
  finished(queue: string | null | undefined, state: JobState, startedAt?: number): void;
  /** Jobs this server released from their agents (`store.release`): requeued ones are failovers, failed ones finished. */
  released(
    reason: FailoverReason,
    results: readonly TransitionResult[],
    held: (jobId: string) => HeldForMetrics | undefined,
  ): void;
  /** What this server's lease sweep did (`store.expireLeases`). */
  expired(result: { requeued: readonly string[]; failed: readonly string[] }): void;
  /** This server's agents were handed jobs: their time waiting in the queue. */
  assigned(assignments: readonly JobAssignment[]): void;
  /** This server's scheduler chose `count` jobs to preempt. */
  preempted(count: number): void;
  /** Starts timing a scheduling pass; the returned function ends it. */
  passTimer(): () => void;
}
