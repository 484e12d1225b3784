import type { AgentLink, Completion, RegisteredAgent, TransitionResult } from '@baton/core';
import { isAlreadyApplied, retryDecision } from './outcome-retry.js';
import type { RetryWaits } from './retry-waits.js';
import type { RunningJob } from './running-jobs.js';
import { leaseEndsAt } from './running-jobs.js';
import type { TaskLogger } from './task.js';

export interface OutcomeReportsOptions {
  link: AgentLink;
  logger: TaskLogger;
  waits: RetryWaits;
  /** The agent's latest registration: its lease period bounds the retries. */
  registration(): RegisteredAgent | null;
}

/**
 * Sends jobs' outcomes to the server, again after a retryable failure (the server's store down,
 * no answer) with backoff for as long as the job's lease holds (outcome-retry.ts decides). The
 * store's answer for the job, ok or refused, is final.
 */
export class OutcomeReports {
  constructor(private readonly options: OutcomeReportsOptions) {}

  /**
   * Reports one job's outcome. A refusal that finds the job already ended as this outcome says,
   * within this agent's lease, is an earlier try's own commit (see isAlreadyApplied). Throws
   * only a failure not worth retrying; a lease that lapsed first is logged, and the job runs
   * again.
   */
  async report(job: RunningJob, completion: Completion): Promise<void> {
    const { link, logger, waits } = this.options;
    let failures = 0;
    for (;;) {
      let result: TransitionResult | undefined;
      try {
        [result] = await link.complete([completion]);
      } catch (err) {
        failures++;
        const decision = retryDecision(err, failures, Date.now(), this.leaseEndsAt(job));
        if (!decision.retry) {
          if (decision.reason === 'lease-lapsed') {
            logger.error(
              { err, jobId: completion.jobId, tries: failures },
              'could not report the outcome before the lease ran out; the job will run again',
            );
            return;
          }
          throw err;
        }
        logger.warn({ err, jobId: completion.jobId, retryInMs: decision.delayMs }, 'outcome not recorded; retrying');
        await waits.sleep(decision.delayMs);
        continue;
      }
      const leaseHeld = Date.now() < this.leaseEndsAt(job);
      if (result && !result.ok && result.code !== 'CANCELLED' && !isAlreadyApplied(completion, result, leaseHeld)) {
        logger.warn({ jobId: completion.jobId, code: result.code }, result.message);
      }
      return;
    }
  }

  private leaseEndsAt(job: RunningJob): number {
    return leaseEndsAt(job, this.options.registration());
  }
}
