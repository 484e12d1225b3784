import type { AgentCapacity, PendingJob, PendingReasonCode, Placement, PlacementResult, Resources } from '@baton/core';

/** Builders for placement tests: jobs, CPU and GPU agents, and result lookups. */
export type JobInit = Partial<Omit<PendingJob, 'resources' | 'constraints'>> & {
  resources?: Partial<Resources>;
  tags?: string[];
};

export const job = (id: string, init: JobInit = {}): PendingJob => {
  const { resources, tags, ...rest } = init;
  return {
    id,
    queue: 'default',
    task: 'train',
    priority: 'normal',
    priorityLevel: 0,
    avoidAgentId: null,
    ...rest,
    resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0, ...resources },
    constraints: { tags: tags ?? [] },
  };
};
export const gpuJob = (id: string, gpus: number, init: JobInit = {}) =>
  job(id, { ...init, resources: { ...init.resources, gpus } });

export type AgentInit = Partial<Omit<AgentCapacity, 'tasks' | 'total'>> & {
  tasks?: string[];
  total?: Partial<Resources>;
};

/** A CPU-only agent with `freeSlots` of 8 slots free (unless `total` says otherwise). */
export const cpuAgent = (id: string, freeSlots: number, init: AgentInit = {}): AgentCapacity => {
  const { tasks, total, ...rest } = init;
  return {
    id,
    pool: 'default',
    queues: ['default'],
    tags: [],
    freeSlots,
    freeCpu: 64,
    freeMemoryMb: 65536,
    freeGpus: [],
    gpuCount: 0,
    ...rest,
    tasks: new Set(tasks ?? ['train']),
    total: { slots: Math.max(8, freeSlots), cpu: 64, memoryMb: 65536, gpus: 0, ...total },
  };
};

/**
 * A GPU agent with `count` GPUs (8 by default) and as many slots; `free` is the number of
 * free GPUs (the lowest indices) or the free indices themselves. Each held GPU holds a slot,
 * as if one 1-GPU job ran on it, unless `freeSlots` says otherwise.
 */
export const gpuAgent = (
  id: string,
  free: number | number[],
  init: AgentInit & { count?: number } = {},
): AgentCapacity => {
  const { count = 8, tasks, total, ...rest } = init;
  const freeGpus = typeof free === 'number' ? Array.from({ length: free }, (_, i) => i) : free;
  return {
    id,
    pool: 'default',
    queues: ['default'],
    tags: [],
    freeSlots: freeGpus.length,
    freeCpu: 64,
    freeMemoryMb: 65536,
    gpuCount: count,
    ...rest,
    freeGpus,
    tasks: new Set(tasks ?? ['train']),
    total: { slots: count, cpu: 64, memoryMb: 65536, gpus: count, ...total },
  };
};

export const on = (result: PlacementResult, jobId: string): Placement | undefined =>
  result.placements.find((p) => p.jobId === jobId);
export const codeOf = (result: PlacementResult, jobId: string): PendingReasonCode | undefined =>
  result.pending.get(jobId)?.code;

/** A seeded random source for repeatable random fleets. */
export function random(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return Math.floor((s / 4294967296) * n);
  };
}
