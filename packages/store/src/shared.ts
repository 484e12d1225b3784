import type { JobState, LeaseRef, Resources, TransitionResult } from '@baton/core';
import { DEFAULT_RESOURCES, FINAL_STATES, JOB_STATES, LEASED_STATES, ValidationError } from '@baton/core';
import type { FinalJobState } from './contract.js';

/** The final states, in the order retention sweeps them. */
export const FINAL_JOB_STATES: readonly FinalJobState[] = ['succeeded', 'failed', 'cancelled'];

/** Logic every backend shares, so all of them refuse and page the same way. */

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

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))
    throw new ValidationError('cursor is not one this API returned', undefined, 'INVALID_CURSOR');
  return id;
}

export function emptyCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
}

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

/** Stored resources with every field present (rows from before resources had cpu, memory, GPUs). */
export function withDefaultResources(r: Partial<Resources>): Resources {
  return {
    slots: r.slots ?? DEFAULT_RESOURCES.slots,
    cpu: r.cpu ?? DEFAULT_RESOURCES.cpu,
    memoryMb: r.memoryMb ?? DEFAULT_RESOURCES.memoryMb,
    gpus: r.gpus ?? DEFAULT_RESOURCES.gpus,
  };
}
