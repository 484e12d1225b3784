import type { Resources } from './job.js';
import type { AgentCapacity } from './placement-types.js';
import type { PoolConfig } from './pools-config.js';

/**
 * Which pool each pending job asks to grow, and which free GPUs no pending job can use. Both
 * read a sample of each queue's pending jobs (their resources) and scale it to the queue's
 * count, so a backlog of millions costs one bounded read per queue.
 */

/** A queue's pending jobs: how many, and the resources of a sample of them (the head). */
export interface QueueBacklog {
  queue: string;
  pending: number;
  sample: readonly { resources: Resources }[];
}

export interface PoolDemand {
  pendingJobs: number;
  /** Slots, or GPUs for a GPU pool. */
  pendingUnits: number;
}

/** Whether one agent of the pool could ever run a job of these resources. */
export function poolFits(pool: PoolConfig, r: Resources): boolean {
  if (r.gpus > (pool.gpusPerAgent ?? 0)) return false;
  if (pool.slotsPerAgent !== undefined && r.slots > pool.slotsPerAgent) return false;
  return true;
}

/**
 * Each pending job counts for one pool: the first pool (in the config's order) that takes its
 * queue, fits it, and has agents now; else the first that takes and fits it. So a pool at zero
 * comes back only for jobs no running pool can take, and two pools never both grow for one job.
 * `unplaceable` counts jobs no pool of the config can run (they wait for an agent outside it).
 */
export function poolDemand(
  pools: readonly PoolConfig[],
  backlog: readonly QueueBacklog[],
  activePools: ReadonlySet<string>,
): { demand: Map<string, PoolDemand>; unplaceable: number } {
  const jobs = new Map<string, number>();
  const units = new Map<string, number>();
  let unplaceable = 0;
  for (const q of backlog) {
    if (q.pending <= 0) continue;
    const takers = pools.filter((p) => p.queues.includes(q.queue));
    const sample = q.sample.length > 0 ? q.sample : [{ resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 } }];
    const weight = q.pending / sample.length;
    for (const job of sample) {
      const fitting = takers.filter((p) => poolFits(p, job.resources));
      const pool = fitting.find((p) => activePools.has(p.name)) ?? fitting[0];
      if (!pool) {
        unplaceable += weight;
        continue;
      }
      const need = pool.gpusPerAgent !== undefined ? job.resources.gpus : job.resources.slots;
      jobs.set(pool.name, (jobs.get(pool.name) ?? 0) + weight);
      units.set(pool.name, (units.get(pool.name) ?? 0) + need * weight);
    }
  }
  const demand = new Map<string, PoolDemand>();
  for (const p of pools) {
    // Rounded up: a sampled job stands for at least one job, so one pending job wakes a pool.
    demand.set(p.name, {
      pendingJobs: Math.ceil(jobs.get(p.name) ?? 0),
      pendingUnits: Math.ceil(units.get(p.name) ?? 0),
    });
  }
  return { demand, unplaceable: Math.ceil(unplaceable) };
}

/**
 * Free healthy GPUs, per pool, that no pending job can use because each pending GPU job the
 * agent could take asks for more GPUs than the agent has free: fragmentation, not idleness (an
 * agent with free GPUs and no GPU job waiting strands nothing).
 */
export function strandedGpus(
  agents: readonly Pick<AgentCapacity, 'pool' | 'queues' | 'freeGpus'>[],
  backlog: readonly QueueBacklog[],
): Map<string, number> {
  const smallest = new Map<string, number>();
  for (const q of backlog) {
    if (q.pending <= 0) continue;
    for (const job of q.sample) {
      if (job.resources.gpus <= 0) continue;
      smallest.set(q.queue, Math.min(smallest.get(q.queue) ?? Infinity, job.resources.gpus));
    }
  }
  const stranded = new Map<string, number>();
  for (const a of agents) {
    const free = a.freeGpus.length;
    if (free === 0) continue;
    let need = Infinity;
    for (const queue of a.queues) need = Math.min(need, smallest.get(queue) ?? Infinity);
    const strands = Number.isFinite(need) && need > free;
    stranded.set(a.pool, (stranded.get(a.pool) ?? 0) + (strands ? free : 0));
  }
  return stranded;
}
