import type { AgentCapacity, CapacityRelease, PriorityClass, RunningJobView } from '@baton/core';
import { PRIORITY_CLASSES } from '@baton/core';
import type { CapacityReport, PoolFigures } from './capacity-report.js';

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
  /** Priority pools and preemption: absent from reports of servers that predate them. */
  priorities?: PriorityClass[];
  preemptible?: boolean;
  minRuntimeMs?: number;
  preemptGraceMs?: number;
  running?: RunningJobView[];
}

/**
 * What one server reports: its agents that take work now (for schedulers), and for the fleet
 * APIs the public view of each of its agents and its capacity by pool.
 */
export interface AgentsReport {
  agents: WireCapacity[];
  views?: Record<string, unknown>[];
  pools?: CapacityReport;
  /** Agents by state, GPUs and running jobs per pool, for `/metrics`: absent from older servers' reports. */
  poolFigures?: PoolFigures[];
}

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);
const unbounded = (n: number | null | undefined): number => (typeof n === 'number' ? n : Infinity);

export function toReport(
  agents: readonly AgentCapacity[],
  extra: Pick<AgentsReport, 'views' | 'pools' | 'poolFigures'> = {},
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
      ...(a.priorities && { priorities: [...a.priorities] }),
      ...(a.preemptible && {
        preemptible: true,
        ...(a.minRuntimeMs !== undefined && { minRuntimeMs: a.minRuntimeMs }),
        ...(a.preemptGraceMs !== undefined && { preemptGraceMs: a.preemptGraceMs }),
        ...(a.running && { running: a.running.map((j) => ({ ...j, gpus: [...j.gpus] })) }),
      }),
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
      ...poolOf(a),
    }));
}

/**
 * An agent's pool fields as a report gives them. Priorities that are not a list of known
 * classes (a newer server's) are read as a pool taking nothing new here: placing a job where its
 * class may not be served would be worse than waiting for a report this server understands.
 */
function poolOf(
  a: WireCapacity,
): Pick<AgentCapacity, 'priorities' | 'preemptible' | 'minRuntimeMs' | 'preemptGraceMs' | 'running'> {
  const known = (p: unknown): p is PriorityClass => (PRIORITY_CLASSES as readonly unknown[]).includes(p);
  return {
    ...(a.priorities !== undefined && {
      priorities: Array.isArray(a.priorities) ? a.priorities.filter(known) : [],
    }),
    ...(a.preemptible === true && {
      preemptible: true,
      ...(typeof a.minRuntimeMs === 'number' && { minRuntimeMs: a.minRuntimeMs }),
      ...(typeof a.preemptGraceMs === 'number' && { preemptGraceMs: a.preemptGraceMs }),
      ...(Array.isArray(a.running) && { running: a.running }),
    }),
  };
}
