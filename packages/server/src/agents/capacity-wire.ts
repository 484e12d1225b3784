import type { AgentCapacity, CapacityRelease } from '@baton/core';
import type { CapacityReport } from './capacity-report.js';

/**
 * An agent's capacity as a server reports it to the store for other servers' schedulers:
 * plain JSON (tasks as a list, unlimited CPU or memory and unknown release times as null).
 */
interface WireCapacity {
  id: string;
  pool: string;
  queues: string[];
  tasks: string[];
  tags: string[];
  freeSlots: number;
  freeCpu: number | null;
  freeMemoryMb: number | null;
  freeGpus: number[];
  gpuCount: number;
  total: { slots: number; cpu: number | null; memoryMb: number | null; gpus: number };
  releases?: { atMs: number | null; slots: number; gpus: number; cpu?: number; memoryMb?: number }[];
}

/**
 * What one server reports: its agents that take work now (for schedulers), and for the fleet
 * APIs the public view of each of its agents and its capacity by pool.
 */
export interface AgentsReport {
  agents: WireCapacity[];
  views?: Record<string, unknown>[];
  pools?: CapacityReport;
}

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);
const unbounded = (n: number | null | undefined): number => (typeof n === 'number' ? n : Infinity);

export function toReport(
  agents: readonly AgentCapacity[],
  extra: Pick<AgentsReport, 'views' | 'pools'> = {},
): AgentsReport {
  return {
    ...extra,
    agents: agents.map((a) => ({
      id: a.id,
      pool: a.pool,
      queues: [...a.queues],
      tasks: [...a.tasks],
      tags: [...a.tags],
      freeSlots: a.freeSlots,
      freeCpu: finite(a.freeCpu),
      freeMemoryMb: finite(a.freeMemoryMb),
      freeGpus: [...a.freeGpus],
      gpuCount: a.gpuCount,
      total: { slots: a.total.slots, cpu: finite(a.total.cpu), memoryMb: finite(a.total.memoryMb), gpus: a.total.gpus },
      ...(a.releases && { releases: a.releases.map((r) => ({ ...r, atMs: finite(r.atMs) })) }),
    })),
  };
}

/** The agents of a report, or none when it is not one (a newer or broken server wrote it). */
export function fromReport(report: unknown): AgentCapacity[] {
  const agents = (report as Partial<AgentsReport> | null)?.agents;
  if (!Array.isArray(agents)) return [];
  return agents
    .filter((a): a is WireCapacity => typeof a?.id === 'string' && Array.isArray(a.tasks) && Array.isArray(a.freeGpus))
    .map((a) => ({
      id: a.id,
      pool: a.pool,
      queues: a.queues,
      tasks: new Set(a.tasks),
      tags: a.tags,
      freeSlots: a.freeSlots,
      freeCpu: unbounded(a.freeCpu),
      freeMemoryMb: unbounded(a.freeMemoryMb),
      freeGpus: a.freeGpus,
      gpuCount: a.gpuCount,
      total: {
        slots: a.total.slots,
        cpu: unbounded(a.total.cpu),
        memoryMb: unbounded(a.total.memoryMb),
        gpus: a.total.gpus,
      },
      ...(a.releases && {
        releases: a.releases.map((r): CapacityRelease => ({ ...r, atMs: unbounded(r.atMs) })),
      }),
    }));
}
