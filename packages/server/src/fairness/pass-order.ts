import type { FairPosition, PendingJob, PendingReason, PlacementResult } from '@baton/core';
import { comparePending, fairOrder, priorityRank } from '@baton/core';
import type { OwnerLoad, Quota } from '@baton/store';
import type { QuotaBook } from '../quota/quota-book.js';
import { applyRunningQuotas } from '../quota/running-quotas.js';
import type { FleetShares } from './fleet-shares.js';

/** A pass's jobs in the order to place them, and how to explain the ones left waiting. */
export interface PassOrder {
  /** In placement order, without the jobs running quotas hold back. */
  admitted: PendingJob[];
  /** Every waiting job's reason: placement's, running quotas', fair share's. */
  explain(result: PlacementResult): Map<string, PendingReason>;
}

/**
 * Orders one scheduling pass: fair share across owners (when on and more than one owner waits),
 * then running quotas. Reads the store only when it matters: owners' holdings when several
 * owners wait or a quota limits running work; weights and usage (cached) under fair share.
 */
export async function orderForPass(
  pending: readonly PendingJob[],
  deps: { shares: FleetShares; quotas: QuotaBook; fairShare: boolean },
): Promise<PassOrder> {
  const owners = [...new Set(pending.map((j) => j.owner ?? ''))];
  const quotaOf = new Map<string, Quota>(
    await Promise.all(owners.map(async (o) => [o, (await deps.quotas.effective(o)).quota] as const)),
  );
  const limited = [...quotaOf.values()].some((q) => q.maxRunningJobs !== null || q.maxGpus !== null);
  const contested = deps.fairShare && owners.length > 1;
  const loads: Map<string, OwnerLoad> = limited || contested ? await deps.shares.loads() : new Map();
  let ordered: PendingJob[];
  let positions: Map<string, FairPosition> | null = null;
  if (contested) {
    const { usage, weights, halfLifeS } = await deps.shares.shares();
    const leasedUnits = new Map([...loads].map(([owner, load]) => [owner, load.leasedUnits]));
    ({ ordered, positions } = fairOrder(pending, { usage, weights, leasedUnits, halfLifeS }));
  } else {
    ordered = [...pending].sort(comparePending);
  }
  const { admitted, held } = limited
    ? applyRunningQuotas(ordered, (o) => quotaOf.get(o)!, loads)
    : { admitted: ordered, held: new Map<string, PendingReason>() };
  return {
    admitted,
    explain(result) {
      const reasons = new Map(result.pending);
      for (const [id, reason] of held) reasons.set(id, reason);
      if (positions) explainFairShare(admitted, result, positions, reasons);
      return reasons;
    },
  };
}

/** Codes of a job that waits for room others took: fair share may be why they came first. */
const WAITING = new Set(['BEHIND_HIGHER_PRIORITY', 'WAITING_FOR_CAPACITY']);

/**
 * A waiting job whose queue and class saw a newer job of another owner placed this pass waits
 * because of fair share (first come, first served would have placed it first): `FAIR_SHARE`,
 * with its owner's share and its place in the queue's fair order.
 */
function explainFairShare(
  admitted: readonly PendingJob[],
  result: PlacementResult,
  positions: ReadonlyMap<string, FairPosition>,
  reasons: Map<string, PendingReason>,
): void {
  const placed = new Set(result.placements.map((p) => p.jobId));
  // Per queue and class: the newest placed job of each owner.
  const newest = new Map<string, Map<string, string>>();
  const keyOf = (j: PendingJob) => `${j.queue}\u0000${priorityRank(j.priority)}`;
  for (const job of admitted) {
    if (!placed.has(job.id)) continue;
    let byOwner = newest.get(keyOf(job));
    if (!byOwner) newest.set(keyOf(job), (byOwner = new Map()));
    const owner = job.owner ?? '';
    const seen = byOwner.get(owner);
    if (seen === undefined || job.id > seen) byOwner.set(owner, job.id);
  }
  for (const job of admitted) {
    const reason = reasons.get(job.id);
    if (!reason || !WAITING.has(reason.code)) continue;
    const others = newest.get(keyOf(job));
    if (!others) continue;
    const owner = job.owner ?? '';
    const passedBy = [...others].some(([o, id]) => o !== owner && id > job.id);
    const at = positions.get(job.id);
    if (!passedBy || !at) continue;
    reasons.set(job.id, {
      code: 'FAIR_SHARE',
      message: `fair share ran other users' newer jobs first: ${owner} has a ${Math.round(at.share * 100)}% share of the users waiting in this queue and class, and this job is number ${at.position} in the queue's fair order`,
    });
  }
}
