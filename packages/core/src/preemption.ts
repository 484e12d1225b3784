import { DEFAULT_MIN_RUNTIME_MS } from './agent-wire.js';
import { PRIORITY_CLASSES, priorityRank } from './job.js';
import { place } from './placement.js';
import type { AgentCapacity, PendingJob, RunningJobView } from './placement-types.js';

/** What preemption decided in one pass. */
export interface PreemptionPlan {
  /** Running jobs to stop, by agent. */
  victims: { jobId: string; agentId: string }[];
  /** Waiting jobs that will run once victims (chosen now or earlier) have stopped. */
  waiting: Set<string>;
}

export interface PreemptionOptions {
  now: number;
  /** Waiting jobs considered per pass at most, so a pass stays bounded. [32] */
  maxJobs?: number;
}

/**
 * Chooses running jobs to preempt for waiting jobs of a higher class that placement could not
 * place. Only preemptible agents' jobs are victims, only of a lower class than the waiting job,
 * known (`priority` not null) and past the agent's `minRuntimeMs` (so nothing thrashes). On
 * each agent the job is eligible for, victims are picked to free no more than needed: fewest
 * jobs, then least work lost (runtime × units), then newest; the agent needing the cheapest set
 * wins. Room already being freed by earlier preemptions counts first: a job it covers waits for
 * it (and takes it, so two waiting jobs never count on the same room), and no more are stopped.
 * Jobs are taken in the order given (the order placement used). Pure: no I/O, no clock.
 */
export function planPreemptions(
  waiting: readonly PendingJob[],
  agents: readonly AgentCapacity[],
  options: PreemptionOptions,
): PreemptionPlan {
  const plan: PreemptionPlan = { victims: [], waiting: new Set() };
  const preemptible = agents.filter((a) => a.preemptible && a.running && a.running.length > 0);
  if (preemptible.length === 0) return plan;
  const taken = new Set<string>(); // running jobs whose room a waiting job already counts on
  let considered = 0;
  for (const job of waiting) {
    const rank = priorityRank(job.priority);
    if (rank === LOWEST_RANK) continue; // nothing runs below the lowest class
    if (considered++ >= (options.maxJobs ?? 32)) break;
    let best: { agent: AgentCapacity; victims: RunningJobView[]; cost: [number, number, number] } | null = null;
    for (const agent of preemptible) {
      const running = agent.running!.filter((r) => !taken.has(r.jobId));
      // Room being freed by earlier preemptions, of jobs below this one's class.
      const stopping = running.filter((r) => r.preempting && r.priority !== null && priorityRank(r.priority) > rank);
      if (stopping.length > 0 && fits(job, agent, stopping)) {
        // Room on its way: wait for it rather than stop more.
        best = { agent, victims: stopping, cost: [-1, 0, 0] };
        break;
      }
      const minRuntime = agent.minRuntimeMs ?? DEFAULT_MIN_RUNTIME_MS;
      const candidates = running
        .filter(
          (r) =>
            !r.preempting &&
            r.priority !== null &&
            priorityRank(r.priority) > rank &&
            options.now - r.startedAt >= minRuntime,
        )
        .sort((a, b) => workLost(a, options.now) - workLost(b, options.now) || b.startedAt - a.startedAt);
      const chosen = cheapestSet(job, agent, stopping, candidates, options.now);
      if (!chosen) continue;
      const cost: [number, number, number] = [
        chosen.length,
        chosen.reduce((sum, r) => sum + workLost(r, options.now), 0),
        -Math.max(...chosen.map((r) => r.startedAt)),
      ];
      if (!best || lessThan(cost, best.cost)) best = { agent, victims: chosen, cost };
    }
    if (!best) continue;
    plan.waiting.add(job.id);
    for (const v of best.victims) {
      taken.add(v.jobId);
      if (!v.preempting) plan.victims.push({ jobId: v.jobId, agentId: best.agent.id });
    }
  }
  return plan;
}

const LOWEST_RANK = PRIORITY_CLASSES.length - 1;

const unitsOf = (r: RunningJobView): number => (r.gpus.length > 0 ? r.gpus.length : r.slots);

/** Runtime so far times units: what stopping the job throws away. */
const workLost = (r: RunningJobView, now: number): number => Math.max(0, now - r.startedAt) * unitsOf(r);

const lessThan = (a: readonly number[], b: readonly number[]): boolean => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
};

/** Up to this many victims are searched exhaustively (fewest first); past it, greedily. */
const EXHAUSTIVE_VICTIMS = 3;
/** Candidates searched exhaustively: the most preferred ones. */
const EXHAUSTIVE_CANDIDATES = 12;

/**
 * The cheapest set of candidates whose room, with what `stopping` frees, lets the job fit on
 * the agent: the fewest jobs (sets of up to three are searched whole among the twelve most
 * preferred), then the least work lost, then the newest; past that, candidates are added in
 * order of preference until it fits and any it fits without are dropped again. Null when even
 * all candidates are not enough.
 */
function cheapestSet(
  job: PendingJob,
  agent: AgentCapacity,
  stopping: readonly RunningJobView[],
  candidates: readonly RunningJobView[],
  now: number,
): RunningJobView[] | null {
  const pool = candidates.slice(0, EXHAUSTIVE_CANDIDATES);
  for (let k = 1; k <= Math.min(EXHAUSTIVE_VICTIMS, pool.length); k++) {
    let best: RunningJobView[] | null = null;
    let bestCost: number[] = [];
    for (const set of combinations(pool, k)) {
      if (!fits(job, agent, [...stopping, ...set])) continue;
      const cost = [set.reduce((sum, r) => sum + workLost(r, now), 0), -Math.max(...set.map((r) => r.startedAt))];
      if (!best || lessThan(cost, bestCost)) {
        best = set;
        bestCost = cost;
      }
    }
    if (best) return best;
  }
  const chosen: RunningJobView[] = [];
  for (const c of candidates) {
    chosen.push(c);
    if (fits(job, agent, [...stopping, ...chosen])) break;
  }
  if (chosen.length === 0 || !fits(job, agent, [...stopping, ...chosen])) return null;
  for (let i = chosen.length - 1; i >= 0 && chosen.length > 1; i--) {
    const without = chosen.filter((_, k) => k !== i);
    if (fits(job, agent, [...stopping, ...without])) chosen.splice(i, 1);
  }
  return chosen;
}

/** Every k-element subset of `items`, in order. */
function* combinations<T>(items: readonly T[], k: number, from = 0): Generator<T[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= items.length - k; i++) {
    for (const rest of combinations(items, k - 1, i + 1)) yield [items[i]!, ...rest];
  }
}

/** Whether the job would be placed on the agent once `freed` jobs gave their room back. */
function fits(job: PendingJob, agent: AgentCapacity, freed: readonly RunningJobView[]): boolean {
  const gpus = new Set(agent.freeGpus);
  for (const r of freed) for (const g of r.gpus) gpus.add(g);
  const after: AgentCapacity = {
    ...agent,
    freeSlots: agent.freeSlots + freed.reduce((s, r) => s + r.slots, 0),
    freeCpu: agent.freeCpu + freed.reduce((s, r) => s + r.cpu, 0),
    freeMemoryMb: agent.freeMemoryMb + freed.reduce((s, r) => s + r.memoryMb, 0),
    freeGpus: [...gpus].sort((a, b) => a - b),
    releases: undefined,
    running: undefined,
  };
  return place([job], [after]).placements.length === 1;
}
