import type { PriorityClass, Resources } from './job.js';
import { priorityRank } from './job.js';

/**
 * Placement: a pure function from (pending jobs, agents' free capacity) to assignments.
 * No I/O, no clock, so it can be tested and benchmarked on a simulated fleet. The store's
 * atomic assign re-checks every decision, so a stale view here costs a retry, never a
 * double assignment.
 */

/** A queued job as the scheduler sees it. */
export interface PendingJob {
  id: string;
  queue: string;
  priority: PriorityClass;
  priorityLevel: number;
  resources: Resources;
}

/** An agent's free capacity as the scheduler sees it. */
export interface AgentCapacity {
  id: string;
  queues: readonly string[];
  freeSlots: number;
}

export interface Placement {
  jobId: string;
  agentId: string;
}

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
 */
export function place(pending: readonly PendingJob[], agents: readonly AgentCapacity[]): Placement[] {
  const free = new Map<string, number>();
  const byQueue = new Map<string, string[]>();
  for (const agent of agents) {
    if (agent.freeSlots <= 0) continue;
    free.set(agent.id, agent.freeSlots);
    for (const queue of agent.queues) {
      let list = byQueue.get(queue);
      if (!list) byQueue.set(queue, (list = []));
      list.push(agent.id);
    }
  }
  const placements: Placement[] = [];
  for (const job of [...pending].sort(comparePending)) {
    const candidates = byQueue.get(job.queue);
    if (!candidates) continue;
    let best: string | undefined;
    let bestFree = 0;
    for (const agentId of candidates) {
      const slots = free.get(agentId) ?? 0;
      if (slots >= job.resources.slots && slots > bestFree) {
        best = agentId;
        bestFree = slots;
      }
    }
    if (best === undefined) continue;
    free.set(best, bestFree - job.resources.slots);
    placements.push({ jobId: job.id, agentId: best });
  }
  return placements;
}
