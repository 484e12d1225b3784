import type { AgentLink, LeaseRef, RegisteredAgent } from '@baton/core';
import type { LeaseFenceWatch } from './lease-fence-watch.js';
import type { LingeringHandlers } from './lingering-handlers.js';
import { retryDecision } from './outcome-retry.js';
import type { RetryWaits } from './retry-waits.js';
import type { RunningJob, RunningJobs } from './running-jobs.js';
import { leaseEndsAt } from './running-jobs.js';
import type { TaskLogger } from './task.js';

export interface LeaseHeartbeatsOptions {
  link: AgentLink;
  logger: TaskLogger;
  running: RunningJobs;
  waits: RetryWaits;
  fence: LeaseFenceWatch;
  /** Handlers that linger; a report of them that failed is sent again on each tick. */
  lingering: LingeringHandlers;
  registration(): RegisteredAgent | null;
  /** Coalescing window for progress reports. */
  progressIntervalMs: number;
}

/**
 * Renews the leases of the agent's running jobs every heartbeat interval, carrying their
 * progress, and reports changed progress in between (coalesced over a short window). Each tick
 * first stops jobs whose lease went unconfirmed too long (the fence), and each renewal moves
 * their fence on.
 */
export class LeaseHeartbeats {
  private timer: NodeJS.Timeout | null = null;
  private progressTimer: NodeJS.Timeout | null = null;
  /** A heartbeat round is being tried again: the next tick leaves the renewal to it. */
  private retrying = false;

  constructor(private readonly options: LeaseHeartbeatsOptions) {}

  start(heartbeatMs: number): void {
    this.timer = setInterval(() => void this.beat(), heartbeatMs);
    this.timer.unref();
  }

  /** No more heartbeats; a round still retrying ends at its next try. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Left set once cleared: progress reported after the agent stopped schedules no report.
    if (this.progressTimer) clearTimeout(this.progressTimer);
  }

  recordProgress(job: RunningJob, percent: number): void {
    if (!Number.isFinite(percent)) return; // a task's arithmetic slip must not corrupt the job
    job.progress = Math.max(0, Math.min(100, percent));
    job.progressDirty = true;
    if (this.progressTimer) return;
    this.progressTimer = setTimeout(() => {
      this.progressTimer = null;
      void this.beat(true);
    }, this.options.progressIntervalMs);
    this.progressTimer.unref();
  }

  /**
   * Renews every held lease (or, for `onlyProgress`, just reports changed progress). A round
   * that fails with a retryable error is tried again with backoff, with the jobs still held,
   * while any of their leases holds; a round still retrying makes the next tick's redundant.
   */
  private async beat(onlyProgress = false): Promise<void> {
    const { link, logger, running, fence } = this.options;
    if (!onlyProgress) fence.fenceLostLeases(Date.now());
    if (!onlyProgress) this.options.lingering.retry();
    if (!onlyProgress && this.retrying) return;
    const round = [...running.values()].filter((r) => !onlyProgress || r.progressDirty);
    if (round.length === 0) return;
    let failures = 0;
    if (!onlyProgress) this.retrying = true;
    try {
      for (;;) {
        // Jobs that ended meanwhile leave the round (their outcome speaks for them).
        const jobs = round.filter((r) => running.holds(r));
        if (jobs.length === 0 || (failures > 0 && this.timer === null)) return;
        const sentAt = Date.now();
        try {
          const results = await link.heartbeat(jobs.map((r) => heartbeatItem(r)));
          for (const result of results) {
            if (!result.ok) running.abort([result.jobId], result.message);
            else {
              const job = running.get(result.jobId);
              if (job) job.leaseConfirmedAt = sentAt;
            }
          }
          fence.rearm();
          return;
        } catch (err) {
          failures++;
          const registration = this.options.registration();
          const endsAt = Math.max(...jobs.map((r) => leaseEndsAt(r, registration)));
          const decision = onlyProgress
            ? ({ retry: false, reason: 'final' } as const) // the next regular round carries progress
            : retryDecision(err, failures, Date.now(), endsAt);
          if (!decision.retry) {
            for (const r of jobs) if (r.progress !== undefined) r.progressDirty = true;
            logger.warn({ err }, 'heartbeat failed; will retry');
            return;
          }
          logger.warn({ err, retryInMs: decision.delayMs }, 'heartbeat failed; retrying');
          await this.options.waits.sleep(decision.delayMs);
        }
      }
    } finally {
      if (!onlyProgress) this.retrying = false;
    }
  }
}

/** A job's entry in a heartbeat: its lease, and its progress if it has reported any. */
function heartbeatItem(r: RunningJob): LeaseRef & { progress?: number } {
  r.progressDirty = false;
  const ref = { jobId: r.assignment.job.id, leaseToken: r.assignment.leaseToken };
  return r.progress === undefined ? ref : { ...ref, progress: r.progress };
}
