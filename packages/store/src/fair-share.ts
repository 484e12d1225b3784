import type { LeaseRef, TransitionResult } from '@baton/core';

/**
 * What one owner's leased jobs (`assigned` or `running`) hold now. `leasedUnits` is the
 * resource measure fair share charges by: a job's GPUs, or its slots when it has no GPU.
 */
export interface OwnerLoad {
  owner: string;
  leasedJobs: number;
  leasedGpus: number;
  leasedUnits: number;
}

/** An owner's recent usage: resource-time in unit-seconds, decayed to the store's now. */
export interface OwnerUsageUnits {
  owner: string;
  units: number;
}

/**
 * What fair share and preemption keep in the store, so every server and scheduler agrees.
 *
 * Usage decays exponentially: a value stored at time t reads as `units · 2^(-(now - t) / halfLifeMs)`
 * at `now` (store clock). Adding decays the stored value to now first, in the same atomic step,
 * so concurrent adds from several schedulers are never lost.
 */
export interface FairShareStore {
  /** Every owner with at least one leased job, any order. Read from counters: O(owners). */
  ownerLoads(): Promise<OwnerLoad[]>;
  /**
   * Adds resource-time (`units` unit-seconds, > 0) to each owner's decayed usage, atomically per
   * owner. A `halfLifeMs` that is not a positive integer, or `units` not a finite number ≥ 0, is
   * a `ValidationError` and nothing is added. Entries with `units` 0 are skipped.
   */
  addUsage(entries: OwnerUsageUnits[], halfLifeMs: number): Promise<void>;
  /** Every owner's usage decayed to now (owners whose usage decayed below 1e-6 may be left out). */
  usage(halfLifeMs: number): Promise<OwnerUsageUnits[]>;
  /**
   * Gives leased jobs back to the queue for a higher-class job: each goes to `queued` at once
   * (no backoff), its lease revoked (a later start, heartbeat, completion or release with that
   * token is refused `STALE_LEASE`), its attempt ended in history with outcome `preempted` and
   * error `{code: 'PREEMPTED', message}`, and its attempt not spent: `maxAttempts` grows by one,
   * so the attempts it has left are as before it was assigned. Refusals as `complete`:
   * `NOT_FOUND`, `STALE_LEASE`, `CANCELLED`, `FINISHED`. Emits `enqueued` for the jobs' queues.
   */
  preempt(items: (LeaseRef & { message: string })[]): Promise<TransitionResult[]>;
}
