import type pg from 'pg';
import type { Quota } from '../accounts.js';
import { NO_QUOTA } from '../accounts.js';
import type { LeasedUsage } from '../rules/quota-rules.js';
import { QuotaTally } from '../rules/quota-rules.js';
import type { PostgresContext } from './context.js';
import type { AssignedRow } from './rows.js';
import * as quotasSql from './sql/quotas.js';

/**
 * Assignment under quotas, for when some quota limits it (the assign statement said so).
 *
 * Atomic across schedulers on many servers: in one transaction, each owner of the batch's jobs
 * whose quota limits assignment is locked with a transaction-scoped advisory lock (in key
 * order, so two batches never deadlock), then the jobs still queued are locked, the owners' leased counts read from
 * owner_counts, the placements that fit decided in order, and those assigned. Another
 * assigner of the same owner waits for the lock, and its first statement after it sees this
 * transaction's assignments (committed, counted by the triggers). Calls that free leases
 * (complete, expiry) take no quota lock: they only lower what is read.
 */
export async function assignWithinQuotas(
  ctx: PostgresContext,
  ids: string[],
  /** Runs the assign statement, without its quota check, for the placements at `ords`. */
  assignSome: (ords: number[], client: pg.ClientBase) => Promise<AssignedRow[]>,
): Promise<AssignedRow[]> {
  return ctx.transaction(async (client) => {
    await ctx.run(quotasSql.lockOwners, [ids], client);
    const queued = await ctx.run<{ ord: number; owner: string; gpus: number }>(
      quotasSql.lockQueued,
      [ids, ids.map((_, i) => i)],
      client,
    );
    if (queued.length === 0) return [];
    const owners = [...new Set(queued.map((q) => q.owner))];
    const loads = new Map(
      (await ctx.run<OwnerLoadRow>(quotasSql.ownerLoads, [owners], client)).map((r) => [r.owner, r]),
    );
    const tally = new QuotaTally(
      (owner) => quotaOf(loads.get(owner)),
      (owner): LeasedUsage => ({ jobs: loads.get(owner)?.leased_jobs ?? 0, gpus: loads.get(owner)?.leased_gpus ?? 0 }),
    );
    // Placements are taken in the order given; the jobs are locked, so each taken one is assigned.
    const fitting = queued
      .sort((a, b) => a.ord - b.ord)
      .filter((q) => tally.take(q.owner, q.gpus))
      .map((q) => q.ord);
    return fitting.length === 0 ? [] : assignSome(fitting, client);
  });
}

interface OwnerLoadRow {
  owner: string;
  leased_jobs: number;
  leased_gpus: number;
  max_running_jobs: number | null;
  max_gpus: number | null;
}

/** The limits of assignment in an owner's effective quota (ownerLoads already chose it). */
const quotaOf = (row: OwnerLoadRow | undefined): Quota =>
  row ? { ...NO_QUOTA, maxRunningJobs: row.max_running_jobs, maxGpus: row.max_gpus } : NO_QUOTA;
