/** Longest wait between two attempts, whatever the base and attempt number. */
export const MAX_RETRY_DELAY_MS = 3_600_000;

/**
 * Delay before attempt `attempt + 1` after attempt `attempt` failed: exponential in the
 * attempt number, with "equal jitter" (half fixed, half random) so a burst of failures
 * does not retry in lockstep.
 */
export function retryDelayMs(backoffMs: number, attempt: number, random: () => number = Math.random): number {
  if (backoffMs <= 0) return 0;
  const exponential = Math.min(MAX_RETRY_DELAY_MS, backoffMs * 2 ** Math.max(0, attempt - 1));
  const half = exponential / 2;
  return Math.round(half + random() * half);
}
