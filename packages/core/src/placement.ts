import type { AgentCapacity, PendingJob, Placement, PlacementResult } from './placement-types.js';
import { priorityRank } from './job.js';
import { MaxHeap } from './max-heap.js';

/**
 * Placement: a pure function from (pending jobs, agents' free capacity) to assignments.
 * No I/O, no clock, so it can be tested and benchmarked on a simulated fleet. The store's
 * atomic assign re-checks every decision, so a stale view here costs a retry, never a
 * double assignment.
 */

/** Priority class first, then level (higher first), then id (time-ordered: FIFO). */
export function comparePending(a: PendingJob, b: PendingJob): number {
  return (
    priorityRank(a.priority) - priorityRank(b.priority) ||
    b.priorityLevel - a.priorityLevel ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/**
 * Places jobs in priority order on agents subscribed to their queue. Among eligible agents
 * the one with the most free slots wins, which spreads CPU work evenly. A job that fits
 * nowhere is skipped so it does not block smaller jobs behind it.
 *
 * Each queue keeps a max-heap of its agents by free slots, with stale entries dropped lazily,
 * so a placement costs O(queues per agent · log agents) rather than a scan of the fleet.
 */
export function place(pending: readonly PendingJob[], agents: readonly AgentCapacity[]): PlacementResult {
  const free = new Map<string, number>();
  const queuesOf = new Map<string, readonly string[]>();
  const byQueue = new Map<string, MaxHeap<string>>();
  for (const agent of agents) {
    if (agent.freeSlots <= 0) continue;
    free.set(agent.id, agent.freeSlots);
    queuesOf.set(agent.id, agent.queues);
    for (const queue of agent.queues) {
      let heap = byQueue.get(queue);
      if (!heap) byQueue.set(queue, (heap = new MaxHeap()));
      heap.push(agent.freeSlots, agent.id);
    }
  }
  const placements: Placement[] = [];
  for (const job of [...pending].sort(comparePending)) {
    const heap = byQueue.get(job.queue);
    if (!heap) continue;
    // Drop entries whose slot count is out of date; the current one was pushed when it changed.
    let top = heap.peek();
    while (top && top.key !== free.get(top.value)) {
      heap.pop();
      top = heap.peek();
    }
    if (!top || top.key < job.resources.slots) continue;
    const left = top.key - job.resources.slots;
    free.set(top.value, left);
    placements.push({ jobId: job.id, agentId: top.value, gpus: [] });
    if (left > 0) for (const queue of queuesOf.get(top.value) ?? []) byQueue.get(queue)?.push(left, top.value);
  }
  return { placements, pending: new Map() };
}
