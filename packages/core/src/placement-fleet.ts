import type { Resources } from './job.js';
import type { AgentCapacity, PendingReason } from './placement-types.js';
import { AgentHeap } from './placement-heap.js';

/**
 * The mutable view of the fleet that one placement pass works on: each agent's free capacity
 * as decisions consume it, and per eligibility class (queue, task, tags) the indexes that make
 * a decision cost O(log agents) instead of a scan of the fleet.
 */

/** Room held on an agent for a blocked large GPU job (head-of-line reservation). */
export interface Reservation {
  jobId: string;
  resources: Resources;
  agent: AgentState;
  /**
   * Epoch ms by which the held job can start on the agent at the latest, from the agent's
   * releases; Infinity when unknown (then nothing backfills the agent).
   */
  shadowMs: number;
  /**
   * What the agent has beyond the held job's need at its shadow time (nothing when the shadow is
   * unknown): jobs that do not end in time may still take that much, as EASY lets jobs use the
   * nodes a reservation leaves over. Taken down as they do; the releases of earlier passes'
   * such jobs fall after the shadow time, so each pass computes it anew correctly.
   */
  spare: Resources;
}

/** Room coming back to an agent by `atMs` at the latest (finite), as a pass uses it. */
export interface Release {
  atMs: number;
  slots: number;
  cpu: number;
  memoryMb: number;
  gpus: number;
}

export interface AgentState {
  /** Position in id order: the last tie-break everywhere. */
  readonly index: number;
  readonly id: string;
  readonly source: AgentCapacity;
  freeSlots: number;
  freeCpu: number;
  freeMemoryMb: number;
  /** Free device indices, ascending; the lowest are handed out first. */
  readonly freeGpus: number[];
  /** GPUs the agent could offer when idle: healthy and registered. */
  readonly gpuCapacity: number;
  /** `gpuCount > 0`: CPU-only jobs go here only when no GPU-less agent can take them. */
  readonly hasGpus: boolean;
  /** Bumped on every change of free capacity; heap entries of older versions are stale. */
  version: number;
  readonly classes: EligibilityClass[];
  reservation: Reservation | null;
  tagSet: ReadonlySet<string> | null;
  /** Finite releases by time, built on first use; placements of this pass with a limit added. */
  releases: Release[] | null;
}

export function agentStates(agents: readonly AgentCapacity[]): AgentState[] {
  const sorted = [...agents].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted.map((source, index) => {
    const freeGpus = [...source.freeGpus].sort((x, y) => x - y);
    return {
      index,
      id: source.id,
      source,
      freeSlots: source.freeSlots,
      freeCpu: source.freeCpu,
      freeMemoryMb: source.freeMemoryMb,
      freeGpus,
      gpuCapacity: Math.min(source.total.gpus, source.gpuCount),
      hasGpus: source.gpuCount > 0,
      version: 0,
      classes: [],
      reservation: null,
      tagSet: null,
      releases: null,
    };
  });
}

/** A point of capacity: slots, cpu, memory, GPUs. */
export type Capacity = readonly [number, number, number, number];

/** The non-dominated points of a set: a need fits one of the set iff it fits one of these. */
export function paretoFrontier(points: Capacity[]): Capacity[] {
  const sorted = [...points].sort((a, b) => b[0] + b[1] + b[2] + b[3] - (a[0] + a[1] + a[2] + a[3]));
  const kept: Capacity[] = [];
  for (const p of sorted) {
    if (!kept.some((k) => k[0] >= p[0] && k[1] >= p[1] && k[2] >= p[2] && k[3] >= p[3])) kept.push(p);
  }
  return kept;
}

export function covers(frontier: readonly Capacity[], need: Resources): boolean {
  return frontier.some((k) => k[0] >= need.slots && k[1] >= need.cpu && k[2] >= need.memoryMb && k[3] >= need.gpus);
}

/**
 * Agents that may run the jobs of one (queue, task, tags) combination, indexed three ways:
 * GPU-less agents by most free slots (CPU jobs spread), GPU agents by slots to spare beyond
 * one per free GPU (CPU jobs that must spill over), and GPU agents bucketed by free GPU count,
 * fewest free slots first (best fit for GPU jobs).
 */
export class EligibilityClass {
  readonly cpuAgents = new AgentHeap();
  readonly spareAgents = new AgentHeap();
  readonly buckets: (AgentHeap | undefined)[] = [];
  /** Exact shapes (`slots|cpu|mem|gpus`) that failed this pass, with the reason given. */
  readonly failed = new Map<string, PendingReason>();
  /** A few failed shapes per kind, to fail any job that needs at least as much without a search. */
  readonly failedCpu: Resources[] = [];
  readonly failedGpu: Resources[] = [];
  /** GPU sizes of blocked jobs of this class that reached the reservation decision this pass. */
  readonly reserveConsidered = new Set<number>();
  maxReserveConsidered = 0;
  /**
   * No GPU-less agent is eligible: CPU-only jobs may then use any slot of a GPU agent (after
   * the spare ones), or they could never run.
   */
  readonly gpuOnly: boolean;
  private idle: { cpu: Capacity[]; gpu: Capacity[] } | null = null;
  private initial: { cpu: Capacity[]; gpu: Capacity[] } | null = null;

  constructor(
    readonly queue: string,
    readonly task: string,
    readonly tags: readonly string[],
    readonly agents: readonly AgentState[],
    /** Why no job of this class can run here at all, or null when some agent is eligible. */
    readonly ineligible: PendingReason | null,
    private readonly initialOf: (agent: AgentState) => Capacity,
  ) {
    this.gpuOnly = agents.every((a) => a.hasGpus);
    for (const agent of agents) {
      agent.classes.push(this);
      this.index(agent);
    }
  }

  /** Pushes the agent's current state; its older entries become stale. */
  index(agent: AgentState): void {
    if (!agent.hasGpus) {
      this.cpuAgents.push(-agent.freeSlots, agent.index, agent.version);
      return;
    }
    const freeGpus = agent.freeGpus.length;
    this.spareAgents.push(-(agent.freeSlots - freeGpus), agent.index, agent.version);
    if (freeGpus > 0) {
      let bucket = this.buckets[freeGpus];
      if (!bucket) this.buckets[freeGpus] = bucket = new AgentHeap();
      bucket.push(agent.freeSlots, agent.index, agent.version);
    }
  }

  /** What eligible agents offer when idle: to tell "never fits" from "not now". */
  idleFrontier(gpuJob: boolean): Capacity[] {
    this.idle ??= this.frontiers((a) => [
      a.source.total.slots,
      a.source.total.cpu,
      a.source.total.memoryMb,
      a.gpuCapacity,
    ]);
    return gpuJob ? this.idle.gpu : this.idle.cpu;
  }

  /** What eligible agents had free when the pass began: to tell "jobs ahead took it". */
  initialFrontier(gpuJob: boolean): Capacity[] {
    this.initial ??= this.frontiers(this.initialOf);
    return gpuJob ? this.initial.gpu : this.initial.cpu;
  }

  /**
   * GPU jobs see GPU agents as they are; CPU jobs see GPU-less agents as they are and GPU
   * agents with one slot kept per GPU (all their slots when no GPU-less agent is eligible).
   */
  private frontiers(of: (agent: AgentState) => Capacity): { cpu: Capacity[]; gpu: Capacity[] } {
    const cpu: Capacity[] = [];
    const gpu: Capacity[] = [];
    for (const agent of this.agents) {
      const [slots, cpuCores, memoryMb, gpus] = of(agent);
      if (agent.hasGpus) {
        gpu.push([slots, cpuCores, memoryMb, gpus]);
        cpu.push([this.gpuOnly ? slots : slots - gpus, cpuCores, memoryMb, 0]);
      } else {
        cpu.push([slots, cpuCores, memoryMb, 0]);
      }
    }
    return { cpu: paretoFrontier(cpu), gpu: paretoFrontier(gpu) };
  }
}
