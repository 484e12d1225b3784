import type { Completion, JobError } from '@baton/core';
import { retryDelayMs } from '@baton/core';

/**
 * How an attempt ends and what the job does next, alike on every backend. (Redis makes the
 * same decisions inside its Lua scripts, complete.lua and release.lua, with the same jitter
 * passed in; the conformance suite holds them to these.)
 */

/** The job's counters an attempt's end depends on. */
export interface AttemptBudget {
  attempts: number;
  maxAttempts: number;
  backoffMs: number;
}

/** Where the job goes: a final state, or back to the queue now (`queued`) or at `runAt` (`delayed`). */
export interface AttemptEnd {
  state: 'succeeded' | 'failed' | 'queued' | 'delayed';
  /** When a requeued job runs again; null when the job ended. */
  runAt: number | null;
}

/**
 * A completion: success ends the job; a retryable failure with attempts left goes back to
 * `delayed` after the backoff (exponential, jittered by `random`), or to `queued` when the
 * backoff is zero; any other failure ends it.
 */
export function completionEnd(item: Completion, job: AttemptBudget, now: number, random: () => number): AttemptEnd {
  if (item.outcome === 'succeeded') return { state: 'succeeded', runAt: null };
  if (item.error.retryable && job.attempts < job.maxAttempts) {
    const delay = retryDelayMs(job.backoffMs, job.attempts, random);
    return { state: delay > 0 ? 'delayed' : 'queued', runAt: now + delay };
  }
  return { state: 'failed', runAt: null };
}

/**
 * A release (the agent was lost, a GPU failed): back to `queued` now while attempts are left,
 * else `failed`. The error's retryable flag is not consulted: a release is the fleet's fault,
 * not the task's.
 */
export function releaseEnd(job: Pick<AttemptBudget, 'attempts' | 'maxAttempts'>, now: number): AttemptEnd {
  return job.attempts < job.maxAttempts ? { state: 'queued', runAt: now } : { state: 'failed', runAt: null };
}

/** The error an attempt ends with when its agent stopped renewing the lease (expireLeases). */
export function leaseExpiredError(agentId: string | null): JobError {
  return { code: 'LEASE_EXPIRED', message: `agent ${agentId ?? '?'} stopped renewing its lease`, retryable: true };
}

/**
 * The `dueAt` of the `changed` event after completions: the earliest retry, so a scheduler
 * sleeping until later wakes for it; undefined when nothing went back with a delay.
 */
export function earliestRetry(ends: Iterable<AttemptEnd>): number | undefined {
  let dueAt = Infinity;
  for (const end of ends) if (end.state === 'delayed' && end.runAt !== null) dueAt = Math.min(dueAt, end.runAt);
  return dueAt < Infinity ? dueAt : undefined;
}
