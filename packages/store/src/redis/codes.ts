import type { JobState, TransitionResult } from '@baton/core';
import { ConflictError, NotFoundError } from '@baton/core';
import { leaseRenewed, refusalFor } from '../rules/lease-rules.js';

/** The status codes the Lua scripts return (see `lease_status` in scripts/lib/job.lua). */
export const STATUS = { OK: 0, NOT_FOUND: 1, CANCELLED: 2, FINISHED: 3, STALE_LEASE: 4, LEASE_RENEWED: 5 } as const;

/**
 * The one translator of script status codes into what callers see. Refusals go through
 * `refusalFor`, so their texts are every backend's.
 */
export function transitionResult(jobId: string, status: number, state: string): TransitionResult {
  if (status === STATUS.OK) return { jobId, ok: true, state: state as JobState };
  if (status === STATUS.LEASE_RENEWED) return leaseRenewed(jobId);
  const leaseToken = 'refused';
  const job =
    status === STATUS.NOT_FOUND
      ? null
      : status === STATUS.CANCELLED
        ? { state: 'cancelled' as const, leaseToken: null }
        : status === STATUS.FINISHED
          ? { state: state as JobState, leaseToken: null }
          : { state: 'queued' as const, leaseToken: null };
  const refusal = refusalFor({ jobId, leaseToken }, job);
  if (!refusal) throw new Error(`Redis script returned unknown status ${status} for job ${jobId}`);
  return refusal;
}

/** The error `cancel` throws for a script status other than OK. */
export function cancelError(jobId: string, status: number, state: string): Error {
  if (status === STATUS.NOT_FOUND) return new NotFoundError(`job ${jobId} not found`, 'JOB_NOT_FOUND');
  if (status === STATUS.FINISHED)
    return new ConflictError(`job ${jobId} is already ${state}`, 'JOB_FINISHED', { state });
  return new Error(`Redis script returned unknown status ${status} for job ${jobId}`);
}
