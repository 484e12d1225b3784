import type { AgentCapacity, CapacityRelease, PendingJob, PlacementOptions } from '@baton/core';
import { place } from '@baton/core';
import type { Decision, FleetView, JobRecord, Policy } from './simulator.js';
import type { TraceJob } from './trace.js';

/**
 * The policies the packing workload compares: Baton's `place()`, the same without head-of-line
 * reservations (plain best fit, the reference of the mean-wait goal) and two Slurm-like
 * baselines.
 */

export const POLICY_NAMES = ['baton', 'best-fit', 'first-fit', 'fifo'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export const SIM_QUEUE = 'default';
export const SIM_TASK = 'train';

/** Zero-padded submit sequence, so `comparePending`'s id tie-break is submit order. */
export const simJobId = (seq: number) => String(seq).padStart(8, '0');
/** Zero-padded agent index, so id order is index order. */
export const simAgentId = (index: number) => `agent-${String(index).padStart(5, '0')}`;

/**
 * Baton: the real `place()` from `@baton/core` on the simulated fleet. Every agent takes queue
 * `default` and task `train`, has G slots and G GPUs, and CPU and memory it never runs out of.
 * With `timeLimits`, jobs carry their `timeLimitS` as `timeLimitMs`, each agent lists when its
 * running jobs end at the latest (`releases`: start + limit) and `now` is the simulated time
 * (all in ms), as the server would fill them from jobs' `timeoutMs`.
 */
export function batonPolicy(
  options: PlacementOptions = {},
  name = 'baton',
  timeLimits = false,
): Policy & { placements: number } {
  const tasks: ReadonlySet<string> = new Set([SIM_TASK]);
  const queues = [SIM_QUEUE];
  const asPending: PendingJob[] = [];
  const agentIndex = new Map<string, number>();
  const policy = {
    name,
    placements: 0,
    decide(pending: readonly TraceJob[], fleet: FleetView): Decision[] {
      const jobs = pending.map((job) => (asPending[job.seq] ??= toPendingJob(job, timeLimits)));
      const gpus = fleet.gpusPerAgent;
      const agents: AgentCapacity[] = fleet.freeGpus.map((free, i) => {
        const id = simAgentId(i);
        agentIndex.set(id, i);
        return {
          id,
          pool: 'default',
          queues,
          tasks,
          tags: [],
          freeSlots: gpus - fleet.runningJobs[i]!,
          freeCpu: Infinity,
          freeMemoryMb: Infinity,
          freeGpus: free,
          gpuCount: gpus,
          total: { slots: gpus, cpu: Infinity, memoryMb: Infinity, gpus },
          ...(timeLimits && { releases: releasesOf(fleet.running[i]!) }),
        };
      });
      const bySeq = new Map(pending.map((job) => [simJobId(job.seq), job]));
      const { placements } = place(jobs, agents, timeLimits ? { ...options, now: fleet.now * 1000 } : options);
      policy.placements += placements.length;
      return placements.map((p) => ({ job: bySeq.get(p.jobId)!, agent: agentIndex.get(p.agentId)!, gpus: p.gpus }));
    },
  };
  return policy;
}

/** When each running job's room comes back at the latest; jobs without a limit: never (left out). */
function releasesOf(running: readonly JobRecord[]): CapacityRelease[] {
  const releases: CapacityRelease[] = [];
  for (const r of running) {
    const limit = r.job.timeLimitS;
    if (limit !== undefined) releases.push({ atMs: (r.start + limit) * 1000, slots: 1, gpus: r.job.gpus });
  }
  return releases;
}

function toPendingJob(job: TraceJob, timeLimits: boolean): PendingJob {
  return {
    id: simJobId(job.seq),
    queue: SIM_QUEUE,
    task: SIM_TASK,
    priority: job.priority,
    priorityLevel: 0,
    resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: job.gpus },
    constraints: { tags: [] },
    avoidAgentId: null,
    ...(timeLimits && job.timeLimitS !== undefined && { timeLimitMs: job.timeLimitS * 1000 }),
  };
}

/**
 * Slurm-style first fit: in priority then submit order, each job on the first agent (by index)
 * with enough free GPUs; a job that fits nowhere is skipped (backfill without reservation).
 * `strict` is strict FIFO instead: the pass stops at the first job that does not fit.
 */
export function firstFitPolicy(strict = false): Policy {
  return {
    name: strict ? 'fifo' : 'first-fit',
    decide(pending, fleet) {
      const free = fleet.freeGpus.map((f) => [...f]);
      let mostFree = free.reduce((m, f) => Math.max(m, f.length), 0);
      const decisions: Decision[] = [];
      for (const job of pending) {
        if (mostFree === 0) break;
        const agent = job.gpus <= mostFree ? free.findIndex((f) => f.length >= job.gpus) : -1;
        if (agent < 0) {
          if (strict) break;
          continue;
        }
        decisions.push({ job, agent, gpus: free[agent]!.splice(0, job.gpus) });
        mostFree = free.reduce((m, f) => Math.max(m, f.length), 0);
      }
      return decisions;
    },
  };
}

/**
 * The policy of that name. `timeLimits`: Baton's policy uses the jobs' time limits (the others
 * ignore them: first-fit and FIFO as Slurm without backfill, best-fit as the limit-blind reference).
 */
export function makePolicy(
  name: PolicyName,
  options: PlacementOptions = {},
  timeLimits = false,
): Policy & { placements?: number } {
  switch (name) {
    case 'baton':
      return batonPolicy(options, 'baton', timeLimits);
    case 'best-fit':
      return batonPolicy({ ...options, reservations: 'none' }, 'best-fit');
    case 'first-fit':
      return firstFitPolicy(false);
    case 'fifo':
      return firstFitPolicy(true);
  }
}
