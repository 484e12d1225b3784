import { ValidationError } from '@baton/core';
import type { FinalJobState } from '../contract.js';

/** The final states, in the order retention sweeps them. */
export const FINAL_JOB_STATES: readonly FinalJobState[] = ['succeeded', 'failed', 'cancelled'];

/**
 * Checks deleteFinished's arguments (see the contract). `before`: the cut-off as an integer
 * with the same meaning (finished_at < before), within the safe range; `limit`: 0 when the
 * call deletes nothing.
 */
export function retentionArgs(
  finishedBefore: number,
  limit: number,
  state?: string,
): { before: number; limit: number; state: FinalJobState | undefined } {
  if (state !== undefined && !(FINAL_JOB_STATES as readonly string[]).includes(state)) {
    throw new ValidationError(`state must be one of ${FINAL_JOB_STATES.join(', ')}, not ${state}`);
  }
  if (!Number.isFinite(finishedBefore)) {
    throw new ValidationError(`finishedBefore must be a finite number of epoch ms, not ${finishedBefore}`);
  }
  if (!Number.isSafeInteger(limit)) throw new ValidationError(`limit must be an integer, not ${limit}`);
  const before = Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, Math.ceil(finishedBefore)));
  return { before, limit: Math.max(0, limit), state: state as FinalJobState | undefined };
}
