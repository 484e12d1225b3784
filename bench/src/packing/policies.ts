import type { AgentCapacity, CapacityRelease, PendingJob, PlacementOptions } from '@baton/core';
import { comparePending, fairOrder, place, RuntimeHistory, runtimeClassKey } from '@baton/core';
import { easyPolicy } from './easy.js';
import type { Decision, FleetView, JobRecord, Policy } from './simulator.js';
import type { TraceJob } from './trace.js';

/**
 * The policies the packing workload compares: Baton's `place()`, the same with fair share
 * across users (`baton-fair`), the same without head-of-line reservations (plain best fit, the
 * reference of the mean-wait goal) and two Slurm-like baselines.
 */

export const POLICY_NAMES = ['baton', 'baton-fair', 'best-fit', 'first-fit', 'fifo', 'easy'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export const SIM_QUEUE = 'default';

/** Zero-padded submit sequence, so `comparePending`'s id tie-break is submit order. */
export const simJobId = (seq: number) => String(seq).padStart(8, '0');
/** Zero-padded agent index, so id order is index order. */
export const simAgentId = (index: number) => `agent-${String(index).padStart(5, '0')}`;

/**
 * Baton: the real `place()` from `@baton/core` on the simulated fleet. Every agent takes queue
 * `default` and every task of the trace, has G slots and G GPUs, and CPU and memory it never runs out of.
 * With `estimates: 'limits'`, jobs carry their `timeLimitS` as `timeLimitMs`, each agent lists
 * when its running jobs end at the latest (`releases`: start + limit) and `now` is the simulated
 * time (all in ms), as the server would fill them from jobs' `timeoutMs`. With `'learned'`, no
 * job has a limit: as the server does, each finished job's runtime is recorded under its class
 * (user, task, shape) and a pending job's `timeLimitMs` is its class's learned estimate (none
 * before enough history), a running job's release its start plus the estimate it had when it
 * started; estimates are never enforced. Each job's `user` is its `owner`. With `fairShare`, each pass is ordered by `fairOrder` first, as the server's
 * scheduler does (usage decayed from the jobs that ran, leased units from the running jobs),
 * and placed with `ordered: true`; without it, `place()` sorts (plain FIFO within a class).
 */
export function batonPolicy(
  options: PlacementOptions = {},
  name = 'baton',
  estimates: Estimates = 'none',
  fairShare?: FairShareSimOptions,
): Policy & { placements: number } {
  const timeLimits = estimates !== 'none';
  // Every agent serves every task of the trace: the tasks seen so far (classes are per pass).
  const tasks = new Set<string>();
  const queues = [SIM_QUEUE];
  const asPending: PendingJob[] = [];
  const learned = estimates === 'learned' ? new LearnedRuntimes() : null;
  const agentIndex = new Map<string, number>();
  const usage = fairShare ? new UsageLedger(fairShare.halfLifeS) : null;
  const weights = fairShare?.weights ?? new Map<string, number>();
  const policy = {
    name,
    placements: 0,
    decide(pending: readonly TraceJob[], fleet: FleetView): Decision[] {
      for (const job of pending) tasks.add(job.task);
      let jobs = pending.map((job) => (asPending[job.seq] ??= toPendingJob(job, estimates === 'limits')));
      if (learned) learned.learn(fleet, jobs, pending);
      // The server always passes its clock (without limits or releases it changes nothing).
      let passOptions: PlacementOptions = { ...options, now: fleet.now * 1000 };
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
      const agents: AgentCapacity[] = fleet.freeGpus.map((free, i) => {
        const id = simAgentId(i);
        const gpus = fleet.agentGpus[i]!;
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
          ...(timeLimits && {
            releases: learned ? learned.releasesOf(fleet.running[i]!) : releasesOf(fleet.running[i]!),
          }),
        };
      });
      const bySeq = new Map(pending.map((job) => [simJobId(job.seq), job]));
      const { placements } = place(jobs, agents, passOptions);
      policy.placements += placements.length;
      if (learned) for (const p of placements) learned.started(bySeq.get(p.jobId)!);
      return placements.map((p) => ({ job: bySeq.get(p.jobId)!, agent: agentIndex.get(p.agentId)!, gpus: p.gpus }));
    },
  };
  return policy;
}

/** What Baton's policy knows of runtimes: nothing, the jobs' time limits, or learned history. */
export type Estimates = 'none' | 'limits' | 'learned';

/** The server's runtime history in the simulation: recorded on finish, read per pass. */
export class LearnedRuntimes {
  private readonly history = new RuntimeHistory();
  /** The estimate each running job had when it started (ms), by seq; absent: none. */
  private readonly atStart = new Map<number, number>();
  private readonly current = new Map<number, number | null>();

  /** Records the jobs that finished since the last pass and sets the pending jobs' estimates. */
  /** The pass's time (ms). */
  private now = 0;

  learn(fleet: FleetView, jobs: PendingJob[], pending: readonly TraceJob[]): void {
    this.now = fleet.now * 1000;
    for (const r of fleet.finished) {
      this.history.record(classKey(r.job), r.job.durationS * 1000);
      this.atStart.delete(r.job.seq);
    }
    for (let i = 0; i < jobs.length; i++) {
      const estimate = this.history.estimate(classKey(pending[i]!));
      jobs[i]!.timeLimitMs = estimate;
      this.current.set(pending[i]!.seq, estimate);
    }
  }

  started(job: TraceJob): void {
    const estimate = this.current.get(job.seq);
    if (estimate !== null && estimate !== undefined) this.atStart.set(job.seq, estimate);
    this.current.delete(job.seq);
  }

  releasesOf(running: readonly JobRecord[]): CapacityRelease[] {
    const releases: CapacityRelease[] = [];
    for (const r of running) {
      const estimate = this.atStart.get(r.job.seq);
      if (estimate === undefined) continue;
      const at = r.start * 1000 + estimate;
      // Past its estimate, when it ends is unknown again (as the server reports it).
      if (at < this.now) continue;
      releases.push({ atMs: at, slots: 1, gpus: r.job.gpus });
    }
    return releases;
  }
}

function classKey(job: TraceJob): string {
  return runtimeClassKey(job.user, job.task, { slots: 1, cpu: 0, memoryMb: 0, gpus: job.gpus });
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
    task: job.task,
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
 * The policy of that name. `estimates`: what Baton's policies know of runtimes (the others
 * ignore it: first-fit and FIFO as Slurm without backfill, best-fit as the limit-blind reference;
 * EASY always plans with the jobs' time limits). `fairShare`: the half-life and weights of
 * `baton-fair` (the others ignore them).
 */
export function makePolicy(
  name: PolicyName,
  options: PlacementOptions = {},
  estimates: Estimates | boolean = 'none',
  fairShare: FairShareSimOptions = { halfLifeS: DEFAULT_HALF_LIFE_S },
): Policy & { placements?: number } {
  const known: Estimates = estimates === true ? 'limits' : estimates === false ? 'none' : estimates;
  switch (name) {
    case 'baton':
      return batonPolicy(options, 'baton', known);
    case 'baton-fair':
      return batonPolicy(options, 'baton-fair', known, fairShare);
    case 'best-fit':
      return batonPolicy({ ...options, reservations: 'none' }, 'best-fit');
    case 'first-fit':
      return firstFitPolicy(false);
    case 'fifo':
      return firstFitPolicy(true);
    case 'easy':
      return easyPolicy();
  }
}
