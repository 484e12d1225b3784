import { RetryLaterError } from '@baton/core';
import type { Store } from '@baton/store';
import type { QuotaBook } from './quota-book.js';
import { SubmitRate } from './submit-rate.js';

/** How long a submitter over `maxQueuedJobs` is told to wait: its jobs must run first. */
const QUEUED_RETRY_MS = 5000;

/**
 * The submit-side quotas, checked before anything is stored: `submitRatePerSec` and
 * `maxQueuedJobs`. A request over either is refused whole (429 with `Retry-After`). The queued
 * count is read from the store, so it is shared by every server; two servers taking
 * submissions of one owner at the same instant may together pass it by one request's jobs.
 */
export class SubmitLimits {
  private readonly rate: SubmitRate;

  constructor(
    private readonly store: Store,
    private readonly quotas: QuotaBook,
    clock: () => number = Date.now,
  ) {
    this.rate = new SubmitRate(clock);
  }

  async admit(owner: string, jobs: number): Promise<void> {
    const { quota } = await this.quotas.effective(owner);
    if (quota.maxQueuedJobs !== null) {
      const usage = await this.store.ownerUsage(owner);
      if (usage.waitingJobs + jobs > quota.maxQueuedJobs) {
        throw new RetryLaterError(
          'QUOTA_EXCEEDED',
          `${owner} has ${usage.waitingJobs} jobs waiting; ${jobs} more would pass the quota of ${quota.maxQueuedJobs} (maxQueuedJobs)`,
          QUEUED_RETRY_MS,
          { limit: 'maxQueuedJobs', max: quota.maxQueuedJobs, waiting: usage.waitingJobs, requested: jobs },
        );
      }
    }
    // The rate last: a request refused for its queue spends nothing from the bucket.
    if (quota.submitRatePerSec !== null) {
      const waitMs = this.rate.take(owner, jobs, quota.submitRatePerSec);
      if (waitMs > 0) {
        throw new RetryLaterError(
          'RATE_LIMITED',
          `${owner} may submit ${quota.submitRatePerSec} jobs per second (submitRatePerSec); slow down`,
          waitMs,
          { limit: 'submitRatePerSec', rate: quota.submitRatePerSec, requested: jobs },
        );
      }
    }
  }
}
