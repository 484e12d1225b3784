import type { JobState, LeaseRef, TransitionResult } from '@baton/core';
import { FINAL_STATES, LEASED_STATES, ValidationError } from '@baton/core';

/** Lease checks every backend shares, so all of them refuse a report the same way. */

/**
 * Why a report under `item`'s lease must be refused, or null when the lease is current. With
 * `item.leaseExpiresBy` (a conditional release), a current lease that now ends after it was
 * renewed since the caller looked: `LEASE_RENEWED`. That code comes last, so an unknown,
 * cancelled, finished or reassigned job is refused as it always was.
 */
export function refusalFor(
  item: LeaseRef & { leaseExpiresBy?: number },
  job: { state: JobState; leaseToken: string | null; leaseExpiresAt?: number | null } | null,
): TransitionResult | null {
  const { jobId } = item;
  if (!job) return { jobId, ok: false, code: 'NOT_FOUND', message: `job ${jobId} not found` };
  if (job.state === 'cancelled') return { jobId, ok: false, code: 'CANCELLED', message: `job ${jobId} was cancelled` };
  if (job.leaseToken === item.leaseToken && LEASED_STATES.has(job.state)) {
    const renewed =
      item.leaseExpiresBy !== undefined && job.leaseExpiresAt != null && job.leaseExpiresAt > item.leaseExpiresBy;
    return renewed ? leaseRenewed(jobId) : null;
  }
  if (FINAL_STATES.has(job.state)) {
    return { jobId, ok: false, code: 'FINISHED', state: job.state, message: `job ${jobId} is already ${job.state}` };
  }
  return {
    jobId,
    ok: false,
    code: 'STALE_LEASE',
    message: `lease on job ${jobId} is no longer valid (the job was retried or reassigned)`,
  };
}

/**
 * Why a lease-checked change matched no row, read after the fact: {@link refusalFor}, or, when
 * the job as read now holds the lease after all (it changed between the write and the read),
 * a stale lease all the same: the change was not made.
 */
export function refusalOfUnchanged(
  item: LeaseRef,
  job: { state: JobState; leaseToken: string | null } | null,
): TransitionResult {
  return (
    refusalFor(item, job) ?? {
      jobId: item.jobId,
      ok: false,
      code: 'STALE_LEASE',
      message: `lease on job ${item.jobId} changed`,
    }
  );
}

/** What {@link refusalFor} needs of a stored job row (SQLite, PostgreSQL), or null when there is none. */
export function leaseOf(
  row: { state: string; lease_token: string | null; lease_expires_at?: number | null } | null | undefined,
): { state: JobState; leaseToken: string | null; leaseExpiresAt: number | null } | null {
  if (!row) return null;
  return { state: row.state as JobState, leaseToken: row.lease_token, leaseExpiresAt: row.lease_expires_at ?? null };
}

/** The refusal of a conditional release whose job's lease was renewed since the caller saw it. */
export function leaseRenewed(jobId: string): TransitionResult {
  return {
    jobId,
    ok: false,
    code: 'LEASE_RENEWED',
    message: `lease on job ${jobId} was renewed since it was last seen (its agent is still heard from), so it was not released`,
  };
}

/**
 * Checks a release's items before anything changes: a conditional release's `leaseExpiresBy`
 * is epoch ms, a finite number when given. Answers how many items there are.
 */
export function checkReleaseItems(items: readonly { jobId: string; leaseExpiresBy?: number }[]): number {
  for (const item of items) {
    if (item.leaseExpiresBy !== undefined && !Number.isFinite(item.leaseExpiresBy)) {
      throw new ValidationError(`leaseExpiresBy of job ${item.jobId} must be a finite number of epoch ms`);
    }
  }
  return items.length;
}
