import type { RegisteredAgent } from '@baton/core';
import { BatonError } from '@baton/core';
import { fencePlan } from './lease-fence.js';
import type { RunningJob, RunningJobs } from './running-jobs.js';
import type { TaskLogger } from './task.js';

export interface LeaseFenceWatchOptions {
  running: RunningJobs;
  logger: TaskLogger;
  /** The agent's latest registration: its lease and heartbeat set each job's fence. */
  registration(): RegisteredAgent | null;
  /** Whether the agent has stopped: no fence is armed then. */
  stopped(): boolean;
}

/**
 * Stops a job whose lease the server has not confirmed lately, since it may soon run elsewhere:
 * early enough that it is gone before its lease lapses (lease-fence.ts has the plan), so a
 * cut-off agent never runs a job at the same time as its replacement. Checked on every
 * heartbeat tick and by a timer set for the earliest job's fence, which heartbeats cannot be
 * relied on for when the event loop or the link is slow.
 */
export class LeaseFenceWatch {
  /** Fires when the earliest job's lease fence comes due. */
  private timer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;

  constructor(private readonly options: LeaseFenceWatchOptions) {}

  /** Aborts (`LEASE_LOST`) every job whose fence has come by `now`. */
  fenceLostLeases(now: number): void {
    for (const job of this.options.running.values()) {
      if (job.abort.signal.aborted || now < this.fenceAt(job)) continue;
      this.options.logger.warn(
        { jobId: job.assignment.job.id, unconfirmedMs: now - job.leaseConfirmedAt },
        'lease not confirmed in time; stopping the job before the lease lapses',
      );
      job.abort.abort(
        new BatonError('LEASE_LOST', 'lease lost: the server could not be reached', 409, undefined, true),
      );
    }
  }

  /** Makes sure the timer fires by this (new) job's fence. */
  arm(job: RunningJob): void {
    const at = this.fenceAt(job);
    if (at < this.dueAt) this.setTimer(at);
  }

  /** Sets the timer for the earliest fence of the jobs still running (after renewals). */
  rearm(): void {
    let earliest = Infinity;
    for (const job of this.options.running.values()) {
      if (!job.abort.signal.aborted) earliest = Math.min(earliest, this.fenceAt(job));
    }
    this.setTimer(earliest);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = Infinity;
  }

  /** When a job is stopped unless its lease is confirmed again first. */
  private fenceAt(job: RunningJob): number {
    const r = this.options.registration();
    if (!r) return Infinity;
    return job.leaseConfirmedAt + fencePlan(r.leaseMs, r.heartbeatMs, job.stopGraceMs).fenceAfterMs;
  }

  private setTimer(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = at;
    if (at === Infinity || this.options.stopped()) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.dueAt = Infinity;
        this.fenceLostLeases(Date.now());
        this.rearm();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }
}
