import type { Completion, TransitionResult } from '@baton/core';

/** First wait before a report is sent again, doubled on every failure. */
export const REPORT_RETRY_MIN_MS = 100;
/** Longest wait between two tries of a report. */
export const REPORT_RETRY_MAX_MS = 2000;

/**
 * Codes of failures after which a report is worth sending again: the server's store was down
 * (`STORE_UNAVAILABLE`), or no answer came (`AGENT_REQUEST_TIMEOUT`; a lost connection is not
 * a failure at all: the link sends what was unanswered again once it has reconnected). Both
 * leave the report's fate unknown, which is safe to retry: the store checks every report
 * against its lease token, so a repeated one is refused, never applied twice.
 */
const RETRYABLE_CODES: ReadonlySet<string> = new Set(['STORE_UNAVAILABLE', 'AGENT_REQUEST_TIMEOUT']);

/**
 * Whether a report that failed with `err` should be tried again. An error reply over the wire
 * carries only its code; an in-process link throws the server's own error, whose `retryable`
 * says so. Anything else (a closed link, an invalid message, an internal error) would fail
 * the same way again.
 */
export function isRetryableReportError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, retryable } = err as { code?: unknown; retryable?: unknown };
  if (code === 'AGENT_LINK_CLOSED') return false; // the agent is leaving, or was refused for good
  return retryable === true || (typeof code === 'string' && RETRYABLE_CODES.has(code));
}

/**
 * The wait before try number `failures + 1`: 100 ms doubling per failure, capped at 2 s, of
 * which a random half (`random()` in [0, 1)) is taken off, so agents cut off together do not
 * all come back in the same instant.
 */
export function reportRetryDelayMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(REPORT_RETRY_MAX_MS, REPORT_RETRY_MIN_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling * (1 - random() / 2));
}

/** What to do after a report failed. */
export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: 'final' | 'lease-lapsed' };

/**
 * Decides whether a failed report is tried again, and when: only a retryable failure, and only
 * while the lease would still hold when the next try goes out (`leaseEndsAt`, the agent's own
 * reckoning); after that the job may belong to another agent and the report means nothing.
 */
export function retryDecision(
  err: unknown,
  failures: number,
  now: number,
  leaseEndsAt: number,
  random: () => number = Math.random,
): RetryDecision {
  if (!isRetryableReportError(err)) return { retry: false, reason: 'final' };
  const delayMs = reportRetryDelayMs(failures, random);
  if (now + delayMs >= leaseEndsAt) return { retry: false, reason: 'lease-lapsed' };
  return { retry: true, delayMs };
}

/** The job's state a completion leads to when the job ends with it. */
function finalStateOf(completion: Completion): 'succeeded' | 'failed' {
  return completion.outcome;
}

/**
 * Whether a completion's refusal is in fact an earlier try's own commit whose answer was lost
 * (a timeout, the store's connection cut mid-commit, the link re-sending after a reconnect):
 * the job is already final in the very state this completion leads to, and the answer came
 * while this agent's lease still held (`leaseHeld`), so no other attempt can have ended it.
 * Then the outcome is recorded, not refused. (A failure that the store retried leaves the job
 * queued: a repeat is `STALE_LEASE`, and either way the job is no longer this agent's.)
 */
export function isAlreadyApplied(completion: Completion, result: TransitionResult, leaseHeld: boolean): boolean {
  return leaseHeld && !result.ok && result.code === 'FINISHED' && result.state === finalStateOf(completion);
}
