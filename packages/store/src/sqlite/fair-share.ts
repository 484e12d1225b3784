import type { LeaseRef, TransitionResult } from '@baton/core';
import type { OwnerLoad, OwnerUsageUnits } from '../fair-share.js';
import { leaseOf, refusalFor, refusalOfUnchanged } from '../rules/lease-rules.js';
import { USAGE_FLOOR, checkHalfLife, decayed, usageToAdd } from '../rules/usage-decay.js';
import type { SqliteContext } from './context.js';
import { jobRow } from './jobs.js';
import { toJson } from './rows.js';

/** Fair share and preemption in SQLite: owner loads from the triggers' counts, decayed usage, preempt. */

export function ownerLoads(ctx: SqliteContext): OwnerLoad[] {
  const rows = ctx.sql.ownerLoads.all() as { owner: string; jobs: number; gpus: number; units: number }[];
  return rows.map((r) => ({ owner: r.owner, leasedJobs: r.jobs, leasedGpus: r.gpus, leasedUnits: r.units }));
}

/**
 * Decays each owner's stored usage to now and adds to it, all owners in one transaction, so a
 * concurrent add (another store on the file) comes wholly before or after, never in between.
 */
export function addUsage(ctx: SqliteContext, entries: OwnerUsageUnits[], halfLifeMs: number): void {
  const add = usageToAdd(entries, halfLifeMs);
  if (add.size === 0) return;
  const now = ctx.clock();
  const { sql } = ctx;
  ctx.db
    .transaction(() => {
      for (const [owner, units] of add) {
        const row = sql.usageOf.get(owner) as { units: number; at: number } | undefined;
        const before = row ? decayed(row.units, row.at, now, halfLifeMs) : 0;
        // A stored time ahead of now (a clock stepped back) is kept, so usage is not decayed twice.
        sql.putUsage.run(owner, before + units, Math.max(now, row?.at ?? now));
      }
    })
    // Takes the write lock before reading, so two connections cannot read the same old value.
    .immediate();
}

export function usage(ctx: SqliteContext, halfLifeMs: number): OwnerUsageUnits[] {
  checkHalfLife(halfLifeMs);
  const now = ctx.clock();
  const out: OwnerUsageUnits[] = [];
  for (const r of ctx.sql.allUsage.all() as { owner: string; units: number; at: number }[]) {
    const units = decayed(r.units, r.at, now, halfLifeMs);
    if (units >= USAGE_FLOOR) out.push({ owner: r.owner, units });
  }
  return out;
}

/**
 * Gives leased jobs back to their queues at once, as `release` does but with the attempt not
 * spent: its end is recorded in job_attempts (outcome `preempted`) and `max_attempts` grows by
 * one. Refusals as `release` reads them, in the same transaction.
 */
export function preempt(ctx: SqliteContext, items: (LeaseRef & { message: string })[]): TransitionResult[] {
  const now = ctx.clock();
  const { sql } = ctx;
  const queues = new Set<string>();
  const results = ctx.db.transaction(() =>
    items.map((item): TransitionResult => {
      const { jobId, leaseToken } = item;
      const row = jobRow(ctx, jobId);
      const refused = refusalFor({ jobId, leaseToken }, leaseOf(row));
      if (refused || !row) return refused ?? refusalOfUnchanged(item, null);
      // Retryable: the job goes back to its queue, as the error of a released job's attempt says.
      const error = toJson({ code: 'PREEMPTED', message: item.message, retryable: true });
      sql.finishAttempt.run({ outcome: 'preempted', error, now, id: jobId, leaseToken, startedAt: null });
      sql.preemptJob.run({ error, now, id: jobId });
      queues.add(row.queue);
      return { jobId, ok: true, state: 'queued' };
    }),
  )();
  if (queues.size > 0) ctx.events.emit({ type: 'enqueued', queues: [...queues] });
  return results;
}
