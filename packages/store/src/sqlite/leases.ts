import type { Completion, JobError, JobState, LeaseRef, TransitionResult } from '@baton/core';
import { completionEnd, releaseEnd } from '../rules/attempt-rules.js';
import { checkReleaseItems, leaseOf, refusalFor, refusalOfUnchanged } from '../rules/lease-rules.js';
import type { SqliteContext } from './context.js';
import { jobRow } from './jobs.js';
import { toJson } from './rows.js';
import { WorkflowAdvance } from './workflow-advance.js';

/** Lease-checked transitions in SQLite: start, heartbeat, complete and release, a batch per transaction. */

/** Why a lease-checked change to `item` matched no row. */
function refusal(ctx: SqliteContext, item: LeaseRef): TransitionResult {
  const row = ctx.sql.getLease.get(item.jobId) as { state: JobState; lease_token: string | null } | undefined;
  return refusalOfUnchanged(item, row ? { state: row.state, leaseToken: row.lease_token } : null);
}

export function start(ctx: SqliteContext, items: LeaseRef[], leaseMs: number): TransitionResult[] {
  const now = ctx.clock();
  return ctx.db.transaction(() =>
    items.map((item): TransitionResult => {
      const changed = ctx.sql.startJob.run({
        now,
        leaseExpiresAt: now + leaseMs,
        id: item.jobId,
        leaseToken: item.leaseToken,
      });
      if (changed.changes === 0) return refusal(ctx, item);
      return { jobId: item.jobId, ok: true, state: 'running' };
    }),
  )();
}

export function heartbeat(
  ctx: SqliteContext,
  items: (LeaseRef & { progress?: number })[],
  leaseMs: number,
): TransitionResult[] {
  const now = ctx.clock();
  return ctx.db.transaction(() =>
    items.map((item): TransitionResult => {
      const row = ctx.sql.renewLease.get({
        leaseExpiresAt: now + leaseMs,
        progress: item.progress ?? null,
        now,
        id: item.jobId,
        leaseToken: item.leaseToken,
      }) as { state: JobState } | undefined;
      return row ? { jobId: item.jobId, ok: true, state: row.state } : refusal(ctx, item);
    }),
  )();
}

export function complete(ctx: SqliteContext, items: Completion[]): TransitionResult[] {
  const now = ctx.clock();
  const retries = { dueAt: Infinity };
  const advance = new WorkflowAdvance(ctx, now);
  const results = ctx.db.transaction(() => {
    const out = items.map((item) => completeOne(ctx, item, now, retries, advance));
    advance.settle();
    return out;
  })();
  if (results.some((r) => r.ok)) {
    ctx.events.emit({ type: 'changed', ...(retries.dueAt < Infinity && { dueAt: retries.dueAt }) });
  }
  advance.emit();
  return results;
}

function completeOne(
  ctx: SqliteContext,
  item: Completion,
  now: number,
  retries: { dueAt: number },
  advance: WorkflowAdvance,
): TransitionResult {
  const { sql } = ctx;
  const { jobId, leaseToken } = item;
  const startedAt = item.startedAt ?? null;
  if (item.outcome === 'succeeded') {
    // The final attempt is recorded by the job row itself (see getAttempts): one write.
    const changed = sql.succeedJob.get({
      result: toJson(item.result ?? null),
      now,
      id: jobId,
      leaseToken,
      startedAt,
    }) as { workflow_id: string | null } | undefined;
    if (!changed) return refusal(ctx, item);
    if (changed.workflow_id !== null) advance.finished(jobId, changed.workflow_id, 'succeeded');
    return { jobId, ok: true, state: 'succeeded' };
  }
  const row = jobRow(ctx, jobId);
  const refused = refusalFor(item, row ? { state: row.state as JobState, leaseToken: row.lease_token } : null);
  if (refused || !row) return refused ?? refusal(ctx, item);
  const error = toJson(item.error);
  const budget = { attempts: row.attempts, maxAttempts: row.max_attempts, backoffMs: row.backoff_ms };
  const end = completionEnd(item, budget, now, ctx.random);
  if (end.runAt !== null) {
    sql.finishAttempt.run({ outcome: 'failed', error, now, id: jobId, leaseToken, startedAt });
    sql.requeueJob.run(end.state, end.runAt, error, now, jobId);
    if (end.state === 'delayed') retries.dueAt = Math.min(retries.dueAt, end.runAt);
    return { jobId, ok: true, state: end.state };
  }
  // The final attempt is recorded by the job row (see getAttempts).
  sql.failJob.run({ error, now, id: jobId, startedAt });
  if (row.workflow_id !== null) advance.finished(jobId, row.workflow_id, 'failed');
  return { jobId, ok: true, state: 'failed' };
}

export function release(
  ctx: SqliteContext,
  items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[],
): TransitionResult[] {
  checkReleaseItems(items);
  const now = ctx.clock();
  const { sql } = ctx;
  const advance = new WorkflowAdvance(ctx, now);
  const results = ctx.db.transaction(() => {
    const out = items.map((item): TransitionResult => {
      const { jobId, leaseToken } = item;
      const row = jobRow(ctx, jobId);
      // Read in the release's transaction, so a conditional release cannot race a renewal.
      const refused = refusalFor(item, leaseOf(row));
      if (refused || !row) return refused ?? refusal(ctx, item);
      const error = toJson(item.error);
      const end = releaseEnd({ attempts: row.attempts, maxAttempts: row.max_attempts }, now);
      if (end.runAt !== null) {
        sql.finishAttempt.run({ outcome: 'failed', error, now, id: jobId, leaseToken, startedAt: null });
        sql.requeueJob.run(end.state, end.runAt, error, now, jobId);
        return { jobId, ok: true, state: end.state };
      }
      // The final attempt is recorded by the job row (see getAttempts).
      sql.failJob.run({ error, now, id: jobId, startedAt: null });
      if (row.workflow_id !== null) advance.finished(jobId, row.workflow_id, 'failed');
      return { jobId, ok: true, state: 'failed' };
    });
    advance.settle();
    return out;
  })();
  if (results.some((r) => r.ok)) ctx.events.emit({ type: 'changed' });
  advance.emit();
  return results;
}
