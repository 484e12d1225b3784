import type { Placement, PendingJob } from '@baton/core';
import type { Offer } from '@baton/store';
import type { FleetView } from './fleet-view.js';

/**
 * A pass's placements as offers: those on this server's agents (`mine`, admitted here) and,
 * per server, those on the others' agents (published to it; the fleet view counts them taken
 * until that server reports again). Each offer carries what its agent's server keeps with the
 * job: its resources, priority class, owner and, for a job without a timeout, the learned
 * runtime the pass planned with (`estimated`).
 */
export function offersOf(
  placements: readonly Placement[],
  pending: readonly PendingJob[],
  context: { serverOf: ReadonlyMap<string, string>; fleet: FleetView; estimated: ReadonlyMap<string, number> },
): { mine: Offer[]; others: Map<string, Offer[]> } {
  const byId = new Map(pending.map((job) => [job.id, job]));
  const mine: Offer[] = [];
  const others = new Map<string, Offer[]>();
  for (const p of placements) {
    const job = byId.get(p.jobId)!;
    // Written out, not spread: this runs for every job placed.
    const offer: Offer = { jobId: p.jobId, agentId: p.agentId, gpus: p.gpus, resources: job.resources };
    offer.priority = job.priority;
    if (job.owner !== undefined) offer.owner = job.owner;
    const expected = context.estimated.get(p.jobId);
    if (expected !== undefined) offer.expectedRuntimeMs = expected;
    const serverId = context.serverOf.get(p.agentId);
    if (serverId === undefined) {
      mine.push(offer);
      continue;
    }
    let list = others.get(serverId);
    if (!list) others.set(serverId, (list = []));
    list.push(offer);
    context.fleet.offered(p.agentId, offer.resources, p.gpus);
  }
  return { mine, others };
}
