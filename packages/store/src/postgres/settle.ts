import type { Completion, JobError, JobState, LeaseRef, TransitionResult } from '@baton/core';
import { completionEnd, releaseEnd } from '../rules/attempt-rules.js';
import { leaseOf, refusalFor } from '../rules/lease-rules.js';
import { toJson } from './rows.js';

/** A reported job as lockForSettle read it; updated as the batch's items are decided. */
export interface SettleRow {
  id: string;
  state: JobState;
  lease_token: string | null;
  /** Read under the row lock, so a conditional release's check cannot race a renewal. */
  lease_expires_at: number | null;
  attempts: number;
  max_attempts: number;
  backoff_ms: number;
  /** The step's workflow (never changes); null for a plain job. */
  workflow_id: string | null;
}

/** One job's outcome, as the settle statement applies it. */
export interface SettleAction {
  jobId: string;
  state: 'succeeded' | 'failed' | 'queued' | 'delayed';
  runAt: number | null;
  result: string | null;
  error: string | null;
  reportedStart: number | null;
}

/** What a decision for one item of a batch came to. */
type Decision = Omit<SettleAction, 'jobId'>;

/**
 * Decides each item in order against the locked rows, as if applied one by one: once a job's
 * attempt is settled its lease is gone, so a later item of the same batch is refused.
 */
export function decideBatch<T extends LeaseRef & { leaseExpiresBy?: number }>(
  items: readonly T[],
  rows: ReadonlyMap<string, SettleRow>,
  decide: (item: T, row: SettleRow) => Decision,
): { results: TransitionResult[]; actions: SettleAction[] } {
  const actions: SettleAction[] = [];
  const results = items.map((item): TransitionResult => {
    const row = rows.get(item.jobId);
    const refusal = refusalFor(item, leaseOf(row));
    if (refusal || !row) {
      return refusal ?? { jobId: item.jobId, ok: false, code: 'NOT_FOUND', message: `job ${item.jobId} not found` };
    }
    const decision = decide(item, row);
    actions.push({ jobId: item.jobId, ...decision });
    row.state = decision.state;
    row.lease_token = null;
    return { jobId: item.jobId, ok: true, state: decision.state };
  });
  return { results, actions };
}

/** A completion's decision (see completionEnd), with what the settle statement writes. */
export function completionDecision(item: Completion, row: SettleRow, now: number, random: () => number): Decision {
  const reportedStart = item.startedAt ?? null;
  const budget = { attempts: row.attempts, maxAttempts: row.max_attempts, backoffMs: row.backoff_ms };
  const end = completionEnd(item, budget, now, random);
  if (item.outcome === 'succeeded') return { ...end, result: toJson(item.result), error: null, reportedStart };
  return { ...end, result: null, error: toJson(item.error), reportedStart };
}

/** A release's decision (see releaseEnd), with what the settle statement writes. */
export function releaseDecision(item: { error: JobError }, row: SettleRow, now: number): Decision {
  const end = releaseEnd({ attempts: row.attempts, maxAttempts: row.max_attempts }, now);
  return { ...end, result: null, error: toJson(item.error), reportedStart: null };
}

/** The settle statement's parameter arrays ($1–$6). */
export function settleColumns(actions: readonly SettleAction[]): unknown[][] {
  return [
    actions.map((a) => a.jobId),
    actions.map((a) => a.state),
    actions.map((a) => a.runAt),
    actions.map((a) => a.result),
    actions.map((a) => a.error),
    actions.map((a) => a.reportedStart),
  ];
}
