import type { JobError, LeaseRef, TransitionResult } from '@baton/core';
import type { FairShareStore, OwnerLoad, OwnerUsageUnits } from '../fair-share.js';
import { USAGE_FLOOR, checkHalfLife, decayed, usageToAdd } from '../rules/usage-decay.js';
import type { PostgresContext } from './context.js';
import { toJson } from './rows.js';
import type { SettleRow } from './settle.js';
import { decideBatch } from './settle.js';
import * as fairShareSql from './sql/fair-share.js';
import * as leasesSql from './sql/leases.js';
import { rerunOnDeadlock } from './deadlocks.js';

/**
 * Fair share and preemption in PostgreSQL: owner loads read from owner_counts, usage kept
 * decayed in owner_usage (one upsert per call), and preemption as one transaction that locks
 * and checks leases the way complete and release do (settle.ts), then requeues in one statement.
 */
export function postgresFairShare(ctx: PostgresContext): FairShareStore {
  return {
    ownerLoads: () => ownerLoads(ctx),
    addUsage: (entries, halfLifeMs) => addUsage(ctx, entries, halfLifeMs),
    usage: (halfLifeMs) => usage(ctx, halfLifeMs),
    preempt: (items) => preempt(ctx, items),
  };
}

async function ownerLoads(ctx: PostgresContext): Promise<OwnerLoad[]> {
  const rows = await ctx.run<{ owner: string; leased_jobs: number; leased_gpus: number; leased_units: number }>(
    fairShareSql.ownerLoads,
    [],
  );
  return rows.map((r) => ({
    owner: r.owner,
    leasedJobs: Number(r.leased_jobs),
    leasedGpus: Number(r.leased_gpus),
    leasedUnits: Number(r.leased_units),
  }));
}

async function addUsage(ctx: PostgresContext, entries: OwnerUsageUnits[], halfLifeMs: number): Promise<void> {
  const byOwner = usageToAdd(entries, halfLifeMs);
  if (byOwner.size === 0) return;
  await ctx.run(fairShareSql.addUsage, [[...byOwner.keys()], [...byOwner.values()], ctx.clock(), halfLifeMs]);
}

async function usage(ctx: PostgresContext, halfLifeMs: number): Promise<OwnerUsageUnits[]> {
  checkHalfLife(halfLifeMs);
  const now = ctx.clock();
  const rows = await ctx.run<{ owner: string; units: number; at: number }>(fairShareSql.usage, []);
  return rows
    .map((r) => ({ owner: r.owner, units: decayed(r.units, Number(r.at), now, halfLifeMs) }))
    .filter((u) => u.units >= USAGE_FLOOR);
}

/** The error a preempted attempt ends with. */
const preemptedError = (message: string): JobError => ({ code: 'PREEMPTED', message, retryable: true });

async function preempt(ctx: PostgresContext, items: (LeaseRef & { message: string })[]): Promise<TransitionResult[]> {
  if (items.length === 0) return [];
  const now = ctx.clock();
  // Preempting steps can meet a workflow's fail-fast cascade in a deadlock (deadlocks.ts).
  const { results, queues } = await rerunOnDeadlock(() =>
    ctx.transaction(async (client) => {
      const ids = [...new Set(items.map((i) => i.jobId))];
      const locked = await ctx.run<SettleRow>(leasesSql.lockForSettle, [ids], client);
      // Refused as complete and release refuse; a job named twice is preempted by its first item.
      const decided = decideBatch(items, new Map(locked.map((r) => [r.id, r])), (item) => ({
        state: 'queued' as const,
        runAt: now,
        result: null,
        error: toJson(preemptedError(item.message)),
        reportedStart: null,
      }));
      if (decided.actions.length === 0) return { results: decided.results, queues: [] };
      const requeued = await ctx.run<{ queue: string }>(
        fairShareSql.preempt,
        [decided.actions.map((a) => a.jobId), decided.actions.map((a) => a.error), now],
        client,
      );
      return { results: decided.results, queues: requeued.map((r) => r.queue) };
    }),
  );
  if (queues.length > 0) ctx.relay.publish({ type: 'enqueued', queues: [...new Set(queues)].sort() });
  return results;
}
