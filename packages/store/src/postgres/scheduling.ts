import type pg from 'pg';
import type { JobAssignment, JobState, PendingJob, Placement } from '@baton/core';
import { ValidationError, newLeaseToken, priorityRank } from '@baton/core';
import type { PendingRequest } from '../contract.js';
import { askedPending } from '../rules/scheduling-rules.js';
import type { PostgresContext } from './context.js';
import { assignWithinQuotas } from './quotas.js';
import type { AssignedRow, PendingRow } from './rows.js';
import { assignedFromRow, gpusLiteral, pendingFromRow } from './rows.js';
import * as schedulingSql from './sql/scheduling.js';
import { failExpiredSteps } from './workflow-settle.js';
import type { Statement } from './sql/statement.js';

/** Scheduling in PostgreSQL: due delayed jobs, queue heads, assignment and expired leases, a statement each. */

export async function promoteDue(ctx: PostgresContext): Promise<{ promoted: number; nextRunAt: number | null }> {
  const now = ctx.clock();
  const [row] = await ctx.run<{ promoted: number; next_run_at: number | null }>(schedulingSql.promoteDue, [
    now,
    schedulingSql.SWEEP_BATCH,
  ]);
  const promoted = row?.promoted ?? 0;
  // Other schedulers sharing the store learn of the new work too.
  if (promoted > 0) ctx.relay.publish({ type: 'changed' });
  return { promoted, nextRunAt: row?.next_run_at ?? null };
}

export async function pending(ctx: PostgresContext, requests: PendingRequest[]): Promise<PendingJob[]> {
  for (const r of requests) {
    if (r.perOwner && r.after)
      throw new ValidationError(`pending of queue ${r.queue}: perOwner cannot page with after`);
  }
  const asked = askedPending(requests);
  const heads = asked.filter((r) => !r.after && !r.perOwner);
  const perOwner = asked.filter((r) => r.perOwner);
  const paged = asked.filter((r) => r.after);
  const byQueue = (sql: Statement, reqs: PendingRequest[]): Promise<PendingRow[]> =>
    reqs.length === 0
      ? Promise.resolve([])
      : ctx.run<PendingRow>(sql, [reqs.map((r) => r.queue), reqs.map((r) => r.limit)]);
  // Heads, per-owner heads and keyset pages are a statement each, run side by side.
  const rows = await Promise.all([
    byQueue(schedulingSql.pending, heads),
    byQueue(schedulingSql.pendingPerOwner, perOwner),
    paged.length === 0
      ? []
      : ctx.run<PendingRow>(schedulingSql.pendingAfter, [
          paged.map((r) => r.queue),
          paged.map((r) => r.limit),
          paged.map((r) => priorityRank(r.after!.priority)),
          paged.map((r) => r.after!.priorityLevel),
          paged.map((r) => r.after!.id),
        ]),
  ]);
  return rows.flat().map(pendingFromRow);
}

export async function assign(ctx: PostgresContext, placements: Placement[], leaseMs: number): Promise<JobAssignment[]> {
  const now = ctx.clock();
  // A job placed twice in one batch goes to its first placement.
  const seen = new Set<string>();
  const batch = placements.filter((p) => !seen.has(p.jobId) && seen.add(p.jobId));
  if (batch.length === 0) return [];
  const tokens = batch.map(() => newLeaseToken());
  const run = async (ords: number[], quotaGate: boolean, client?: pg.ClientBase): Promise<AssignRow[]> =>
    ctx.run<AssignRow>(
      schedulingSql.assign,
      [
        ords.map((i) => batch[i]!.jobId),
        ords.map((i) => batch[i]!.agentId),
        ords.map((i) => tokens[i]!),
        ords.map((i) => gpusLiteral(batch[i]!.gpus)),
        ords,
        now + leaseMs,
        now,
        quotaGate,
      ],
      client,
    );
  // Without quotas, one statement as always; with some, the statement assigns nothing and says so.
  const answer = await run(
    batch.map((_, i) => i),
    true,
  );
  let rows: AssignedRow[] = answer;
  if (answer[0]?.limited) {
    rows = await assignWithinQuotas(
      ctx,
      batch.map((p) => p.jobId),
      (ords, client) => run(ords, false, client),
    );
  }
  return rows
    .filter((row) => row.id !== null) // the answer of an assignment of nothing
    .sort((a, b) => a.ord - b.ord)
    .map((row) => {
      const placement = batch[row.ord]!;
      return {
        job: assignedFromRow(row, placement.agentId, [...placement.gpus]),
        leaseToken: tokens[row.ord]!,
      };
    });
}

/** A row of the assign statement: an assigned job, or (id null) the answer of one that assigned none. */
type AssignRow = AssignedRow & { limited: boolean };

export async function expireLeases(
  ctx: PostgresContext,
): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> {
  const now = ctx.clock();
  const [row] = await ctx.run<{
    ended: [string, JobState][];
    steps: [string, string][];
    next_expiry_at: number | null;
  }>(schedulingSql.expireLeases, [now, schedulingSql.SWEEP_BATCH]);
  const ended = row?.ended ?? [];
  const requeued = ended.filter(([, state]) => state === 'queued').map(([id]) => id);
  const failed = ended.filter(([, state]) => state === 'failed').map(([id]) => id);
  // Steps on their last attempt fail with their workflows locked, and advance them.
  failed.push(...(await failExpiredSteps(ctx, row?.steps ?? [], now)));
  if (ended.length > 0) ctx.relay.publish({ type: 'changed' });
  return { requeued, failed, nextExpiryAt: row?.next_expiry_at ?? null };
}
