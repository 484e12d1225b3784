import type { JobAssignment, PendingJob, Placement } from '@baton/core';
import { ValidationError, newLeaseToken, priorityRank } from '@baton/core';
import type { PendingRequest } from '../contract.js';
import { leaseExpiredError } from '../rules/attempt-rules.js';
import { askedPending } from '../rules/scheduling-rules.js';
import type { SqliteContext } from './context.js';
import { OwnerTally } from './owner-tally.js';
import { quotaTally } from './quotas.js';
import { WorkflowAdvance } from './workflow-advance.js';
import { withStepOfAssigned } from './workflow-steps.js';
import type { AssignedRow, JobRow, PendingRow } from './rows.js';
import { assignedFromRow, gpusToJson, pendingFromRow, toJson } from './rows.js';

/** Scheduling in SQLite: due delayed jobs, queue heads, assignment and expired leases. */

export function promoteDue(ctx: SqliteContext): { promoted: number; nextRunAt: number | null } {
  const now = ctx.clock();
  const result = ctx.db.transaction(() => {
    const promoted = ctx.sql.promoteDue.run(now, now).changes;
    const next = ctx.sql.nextRunAt.get() as { t: number | null };
    return { promoted, nextRunAt: next.t };
  })();
  // Other schedulers sharing the store learn of the new work too.
  if (result.promoted > 0) ctx.events.emit({ type: 'changed' });
  return result;
}

export function pending(ctx: SqliteContext, requests: PendingRequest[]): PendingJob[] {
  const { sql } = ctx;
  // Each owner's head has no single position in the queue's order to page after.
  if (requests.some((r) => r.perOwner && r.after)) throw new ValidationError('perOwner cannot be combined with after');
  const out: PendingJob[] = [];
  for (const { queue, limit, after, perOwner } of askedPending(requests)) {
    if (perOwner) {
      // Each owner's head through jobs_queued_by_owner: one probe per owner with queued jobs,
      // so a long backlog of one owner never hides another's.
      for (const { owner } of sql.queuedOwners.all(queue) as { owner: string }[]) {
        for (const row of sql.pendingOfOwner.all(queue, owner, limit) as PendingRow[]) out.push(pendingFromRow(row));
      }
      continue;
    }
    if (!after) {
      for (const row of sql.pending.all(queue, limit) as PendingRow[]) out.push(pendingFromRow(row));
      continue;
    }
    // A keyset page after `after`: the rest of its level, then its class, then lower classes.
    const rank = priorityRank(after.priority);
    const level = after.priorityLevel;
    let left = limit;
    const take = (rows: PendingRow[]) => {
      for (const row of rows) out.push(pendingFromRow(row));
      left -= rows.length;
    };
    take(sql.pendingAfterInLevel.all(queue, rank, level, after.id, left) as PendingRow[]);
    if (left > 0) take(sql.pendingAfterInClass.all(queue, rank, level, left) as PendingRow[]);
    if (left > 0) take(sql.pendingAfterClass.all(queue, rank, left) as PendingRow[]);
  }
  return out;
}

export function assign(ctx: SqliteContext, placements: Placement[], leaseMs: number): JobAssignment[] {
  const now = ctx.clock();
  return ctx.db.transaction(() => {
    const out: JobAssignment[] = [];
    // Quotas are checked in this transaction, so no other call's assignment comes between the
    // check and the assignment.
    const quotas = quotaTally(ctx.sql);
    // queued → assigned is counted here, once per owner and queue (the triggers skip it).
    const counts = new OwnerTally();
    for (const { jobId, agentId, gpus } of placements) {
      if (quotas) {
        const queued = ctx.sql.queuedJobOwner.get(jobId) as { owner: string; gpus: number } | undefined;
        // Not queued: skipped below like any stale placement. Queued: the update below, in the
        // same transaction, assigns it, so what take() counts is assigned.
        // Over its owner's quota: skipped like a stale placement; a later one may still fit.
        if (queued && !quotas.take(queued.owner, queued.gpus)) continue;
      }
      const leaseToken = newLeaseToken();
      const row = ctx.sql.assignJob.get({
        agentId,
        leaseToken,
        leaseExpiresAt: now + leaseMs,
        gpus: gpusToJson(gpus),
        now,
        id: jobId,
      }) as AssignedRow | undefined;
      // No row: the job is no longer queued (taken, cancelled, or placed twice in this batch).
      if (!row) continue;
      const job = assignedFromRow(row, agentId, [...gpus]);
      if (row.workflow_id !== null) withStepOfAssigned(ctx, job, row.workflow_id);
      counts.move(job.owner, job.queue, 'queued', 'assigned', job.resources);
      out.push({ job, leaseToken });
    }
    counts.flush(ctx.sql);
    return out;
  })();
}

export function expireLeases(ctx: SqliteContext): {
  requeued: string[];
  failed: string[];
  nextExpiryAt: number | null;
} {
  const now = ctx.clock();
  const { sql } = ctx;
  const advance = new WorkflowAdvance(ctx, now);
  const result = ctx.db.transaction(() => {
    const requeued: string[] = [];
    const failed: string[] = [];
    for (const row of sql.expiredLeases.all(now) as JobRow[]) {
      const error = toJson(leaseExpiredError(row.agent_id));
      if (row.attempts < row.max_attempts) {
        sql.finishAttempt.run({
          outcome: 'lease_expired',
          error,
          now,
          id: row.id,
          leaseToken: row.lease_token,
          startedAt: null,
        });
        sql.requeueExpired.run({ error, now, id: row.id });
        requeued.push(row.id);
      } else {
        sql.failJob.run({ error, now, id: row.id, startedAt: null });
        if (row.workflow_id !== null) advance.finished(row.id, row.workflow_id, 'failed');
        failed.push(row.id);
      }
    }
    advance.settle();
    const next = sql.nextLeaseExpiry.get() as { t: number | null };
    return { requeued, failed, nextExpiryAt: next.t };
  })();
  if (result.requeued.length > 0 || result.failed.length > 0) ctx.events.emit({ type: 'changed' });
  advance.emit();
  return result;
}
