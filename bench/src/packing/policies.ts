import type { AgentCapacity, CapacityRelease, PendingJob, PlacementOptions } from '@baton/core';
import { comparePending, fairOrder, place } from '@baton/core';
import type { Decision, FleetView, JobRecord, Policy } from './simulator.js';
import type { TraceJob } from './trace.js';

/**
 * The policies the packing workload compares: Baton's `place()`, the same with fair share
 * across users (`baton-fair`), the same without head-of-line reservations (plain best fit, the
 * reference of the mean-wait goal) and two Slurm-like baselines.
 */

export const POLICY_NAMES = ['baton', 'baton-fair', 'best-fit', 'first-fit', 'fifo'] as const;
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
 * (all in ms), as the server would fill them from jobs' `timeoutMs`. Each job's `user` is its
 * `owner`. With `fairShare`, each pass is ordered by `fairOrder` first, as the server's
 * scheduler does (usage decayed from the jobs that ran, leased units from the running jobs),
 * and placed with `ordered: true`; without it, `place()` sorts (plain FIFO within a class).
 */
export function batonPolicy(
  options: PlacementOptions = {},
  name = 'baton',
  timeLimits = false,
  fairShare?: FairShareSimOptions,
): Policy & { placements: number } {
  const tasks: ReadonlySet<string> = new Set([SIM_TASK]);
  const queues = [SIM_QUEUE];
  const asPending: PendingJob[] = [];
  const agentIndex = new Map<string, number>();
  const usage = fairShare ? new UsageLedger(fairShare.halfLifeS) : null;
  const weights = fairShare?.weights ?? new Map<string, number>();
  const policy = {
    name,
    placements: 0,
    decide(pending: readonly TraceJob[], fleet: FleetView): Decision[] {
      let jobs = pending.map((job) => (asPending[job.seq] ??= toPendingJob(job, timeLimits)));
      let passOptions: PlacementOptions = timeLimits ? { ...options, now: fleet.now * 1000 } : options;
      if (usage) {
        // As the server's pass: usage charged up to now, leased units from the running jobs,
        // fair order when more than one owner waits (else plain order), placed as ordered.
        usage.charge(fleet);
        const owners = new Set(jobs.map((j) => j.owner ?? ''));
        jobs =
          owners.size > 1
            ? fairOrder(jobs, {
                usage: usage.usage,
                leasedUnits: leasedUnits(fleet),
                weights,
                halfLifeS: fairShare!.halfLifeS,
              }).ordered
            : [...jobs].sort(comparePending);
        passOptions = { ...passOptions, ordered: true };
      }
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
      const { placements } = place(jobs, agents, passOptions);
      policy.placements += placements.length;
      return placements.map((p) => ({ job: bySeq.get(p.jobId)!, agent: agentIndex.get(p.agentId)!, gpus: p.gpus }));
    },
  };
  return policy;
}

/** Fair share in the simulation (`baton-fair`). */
export interface FairShareSimOptions {
  /** Half-life of the usage's exponential decay, in simulated seconds (the server's default: 3600). */
  halfLifeS: number;
  /** Users' weights (absent: 1). */
  weights?: ReadonlyMap<string, number>;
}

export const DEFAULT_HALF_LIFE_S = 3600;

/** Units each owner's running jobs hold now: their GPUs (every simulated job has some). */
function leasedUnits(fleet: FleetView): Map<string, number> {
  const held = new Map<string, number>();
  for (const on of fleet.running) {
    for (const r of on) held.set(r.job.user, (held.get(r.job.user) ?? 0) + r.job.gpus);
  }
  return held;
}

/**
 * Each owner's decayed usage in unit-seconds, charged continuously: a job holding u units
 * during [a, b] adds u · ∫ 2^(-(now - t)/h) dt over [a, b], so usage read at `now` is
 * Σ u · (h / ln 2) · (2^(-(now - b)/h) − 2^(-(now - a)/h)). The server charges the same in
 * steps of 10 s and reads it cached up to 5 s; here it is exact at every decision.
 */
export class UsageLedger {
  readonly usage = new Map<string, number>();
  private at: number | null = null;

  constructor(private readonly halfLifeS: number) {
    if (!(halfLifeS > 0)) throw new RangeError(`the half-life must be positive, got ${halfLifeS}`);
  }

  /** Brings usage up to `fleet.now` from the jobs that ran since the last charge. */
  charge(fleet: Pick<FleetView, 'now' | 'running' | 'finished'>): void {
    const now = fleet.now;
    const since = this.at ?? now;
    this.at = now;
    if (now <= since) return;
    const h = this.halfLifeS;
    const decay = (t: number) => Math.pow(2, -(now - t) / h);
    const f = decay(since);
    for (const [owner, units] of this.usage) this.usage.set(owner, units * f);
    const add = (r: JobRecord, end: number) => {
      const a = Math.max(r.start, since);
      const b = Math.min(end, now);
      if (b <= a) return;
      // A job's units are its GPUs (`unitsOf`: every simulated job has some).
      const charge = r.job.gpus * (h / Math.LN2) * (decay(b) - decay(a));
      this.usage.set(r.job.user, (this.usage.get(r.job.user) ?? 0) + charge);
    };
    for (const r of fleet.finished) add(r, r.finish);
    for (const on of fleet.running) for (const r of on) add(r, now);
  }
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
    owner: job.user,
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
 * The policy of that name. `timeLimits`: Baton's policies use the jobs' time limits (the others
 * ignore them: first-fit and FIFO as Slurm without backfill, best-fit as the limit-blind reference).
 * `fairShare`: the half-life and weights of `baton-fair` (the others ignore them).
 */
export function makePolicy(
  name: PolicyName,
  options: PlacementOptions = {},
  timeLimits = false,
  fairShare: FairShareSimOptions = { halfLifeS: DEFAULT_HALF_LIFE_S },
): Policy & { placements?: number } {
  switch (name) {
    case 'baton':
      return batonPolicy(options, 'baton', timeLimits);
    case 'baton-fair':
      return batonPolicy(options, 'baton-fair', timeLimits, fairShare);
    case 'best-fit':
      return batonPolicy({ ...options, reservations: 'none' }, 'best-fit');
    case 'first-fit':
      return firstFitPolicy(false);
    case 'fifo':
      return firstFitPolicy(true);
  }
}
