import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { AgentCapacity, Placement, PendingJob, PriorityClass } from '@baton/core';
import { place } from '@baton/core';

/**
 * The scheduler workload: one placement pass of the real `place()` from `@baton/core` over a
 * synthetic fleet and backlog, built deterministically from a seed. The backlog needs far more
 * room than the fleet has free, so most jobs stay pending: every pass looks at the whole
 * backlog, which is the hard case of a busy cluster.
 *
 * Fleet (per agent, drawn from the seed):
 * - 60% CPU-only agents: 8–64 slots, one core and 4 GiB per slot; queues `default` (+ `batch`
 *   on 70% of them); task `run`; tags `region:eu` (30%), `cpu:high` (20%).
 * - 40% GPU agents: 8 GPUs, 16 slots, 64 cores, 512 GiB; queues `ml` and `default`; tasks `run`
 *   and `train`; tags `region:eu` (30%), `gpu:a100` (25%).
 * - Half of the agents are partly busy already: up to half of their slots, cores, memory and
 *   GPUs (random devices) are held.
 *
 * Backlog (per job): 85% CPU jobs (1 slot, 1 core, 1 GiB; queue `default` or `batch`, task
 * `run`), 15% GPU jobs (queue `ml`, task `train`, 1/2/4/8 GPUs at 40/25/20/15%, 1 slot, 4 cores
 * per GPU, 32 GiB per GPU); priority high 10%, normal 70%, low 20% (levels 0–2); 10% carry a
 * tag constraint an agent may have, 0.2% one no agent has. Ids are zero-padded submit order
 * and the jobs are given in submit order, so `place()` pays its own sort by priority.
 */

export interface SchedulerInput {
  agents: AgentCapacity[];
  jobs: PendingJob[];
  /** Free slots and GPUs over the whole fleet, for the report. */
  freeSlots: number;
  freeGpus: number;
}

export interface SchedulerLine {
  system: 'baton';
  workload: 'scheduler';
  agents: number;
  jobs: number;
  placements: number;
  /** Placements of jobs that asked for GPUs. */
  gpu_placements: number;
  /** Free slots and GPUs of the fleet before the pass: the backlog needs far more. */
  free_slots: number;
  free_gpus: number;
  /** Median wall time of one `place()` call (ms), after one warm-up call. */
  pass_ms: number;
  placements_per_s: number;
  /** Pass time over jobs considered (µs). */
  us_per_job: number;
  samples: number;
  seed: number;
  ok: boolean;
}

export interface SchedulerOptions {
  agents: number;
  jobs: number;
  seed?: number;
  /** Timed calls after the warm-up one (default 5); the median is reported. */
  samples?: number;
  log?: (line: string) => void;
}

export const DEFAULT_SEED = 42;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CPU_TASKS: ReadonlySet<string> = new Set(['run']);
const GPU_TASKS: ReadonlySet<string> = new Set(['run', 'train']);
const GPUS_PER_AGENT = 8;
const GPU_AGENT_SLOTS = 16;

/** Agent `i` of the fleet: ids zero-padded so id order is index order. */
export const schedulerAgentId = (i: number) => `agent-${String(i).padStart(6, '0')}`;
export const schedulerJobId = (i: number) => `job-${String(i).padStart(8, '0')}`;

export function buildFleet(
  count: number,
  seed = DEFAULT_SEED,
): { agents: AgentCapacity[]; freeSlots: number; freeGpus: number } {
  const rand = prng(seed);
  const agents: AgentCapacity[] = [];
  let freeSlots = 0;
  let freeGpus = 0;
  for (let i = 0; i < count; i++) {
    const gpuAgent = rand() < 0.4;
    const tags: string[] = [];
    if (rand() < 0.3) tags.push('region:eu');
    if (gpuAgent ? rand() < 0.25 : rand() < 0.2) tags.push(gpuAgent ? 'gpu:a100' : 'cpu:high');
    const slots = gpuAgent ? GPU_AGENT_SLOTS : 8 + Math.floor(rand() * 57);
    const cpu = gpuAgent ? 64 : slots;
    const memoryMb = gpuAgent ? 512 * 1024 : slots * 4096;
    const gpus = gpuAgent ? GPUS_PER_AGENT : 0;
    // Half of the agents are partly busy: up to half of everything held.
    const busy = rand() < 0.5 ? rand() * 0.5 : 0;
    const heldGpus = Math.floor(gpus * busy);
    const free = Array.from({ length: gpus }, (_, d) => d);
    for (let h = 0; h < heldGpus; h++) free.splice(Math.floor(rand() * free.length), 1);
    const agent: AgentCapacity = {
      id: schedulerAgentId(i),
      pool: 'default',
      queues: gpuAgent ? ['ml', 'default'] : rand() < 0.7 ? ['default', 'batch'] : ['default'],
      tasks: gpuAgent ? GPU_TASKS : CPU_TASKS,
      tags,
      freeSlots: slots - Math.floor(slots * busy),
      freeCpu: cpu - Math.floor(cpu * busy),
      freeMemoryMb: memoryMb - Math.floor(memoryMb * busy),
      freeGpus: free,
      gpuCount: gpus,
      total: { slots, cpu, memoryMb, gpus },
    };
    freeSlots += agent.freeSlots;
    freeGpus += free.length;
    agents.push(agent);
  }
  return { agents, freeSlots, freeGpus };
}

const GPU_SIZES = [1, 2, 4, 8] as const;

export function buildBacklog(count: number, seed = DEFAULT_SEED): PendingJob[] {
  // A different stream from the fleet's, so sizes do not correlate with agents.
  const rand = prng(seed ^ 0x5bd1e995);
  const jobs: PendingJob[] = [];
  const noTags: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = rand();
    const priority: PriorityClass = p < 0.1 ? 'high' : p < 0.8 ? 'normal' : 'low';
    const priorityLevel = Math.floor(rand() * 3);
    const gpuJob = rand() < 0.15;
    const g = rand();
    const gpus = gpuJob ? GPU_SIZES[g < 0.4 ? 0 : g < 0.65 ? 1 : g < 0.85 ? 2 : 3]! : 0;
    const t = rand();
    let tags = noTags;
    if (t < 0.002) tags = ['ssd:nvme'];
    else if (t < 0.102) tags = [t < 0.052 ? 'region:eu' : gpuJob ? 'gpu:a100' : 'cpu:high'];
    jobs.push({
      id: schedulerJobId(i),
      queue: gpuJob ? 'ml' : rand() < 0.6 ? 'default' : 'batch',
      task: gpuJob ? 'train' : 'run',
      priority,
      priorityLevel,
      resources: gpuJob
        ? { slots: 1, cpu: 4 * gpus, memoryMb: 32 * 1024 * gpus, gpus }
        : { slots: 1, cpu: 1, memoryMb: 1024, gpus: 0 },
      constraints: { tags },
      avoidAgentId: null,
    });
  }
  return jobs;
}

export function buildSchedulerInput(agents: number, jobs: number, seed = DEFAULT_SEED): SchedulerInput {
  const fleet = buildFleet(agents, seed);
  return { agents: fleet.agents, jobs: buildBacklog(jobs, seed), freeSlots: fleet.freeSlots, freeGpus: fleet.freeGpus };
}

export class PlacementCheckError extends Error {}

/**
 * Checks placements against the capacity given to `place()`: each job once, on an agent that
 * takes its queue, serves its task and carries its tags, with the GPUs it asked for among the
 * agent's free ones, and no agent's free slots, cores, memory or GPUs exceeded.
 */
export function checkPlacements(
  jobs: readonly PendingJob[],
  agents: readonly AgentCapacity[],
  placements: readonly Placement[],
): void {
  const jobById = new Map(jobs.map((j) => [j.id, j]));
  const agentById = new Map(agents.map((a) => [a.id, a]));
  const used = new Map<string, { slots: number; cpu: number; memoryMb: number; gpus: Set<number> }>();
  const placed = new Set<string>();
  for (const p of placements) {
    const job = jobById.get(p.jobId);
    if (!job) throw new PlacementCheckError(`placement of unknown job ${p.jobId}`);
    if (placed.has(p.jobId)) throw new PlacementCheckError(`job ${p.jobId} placed twice`);
    placed.add(p.jobId);
    const agent = agentById.get(p.agentId);
    if (!agent) throw new PlacementCheckError(`job ${p.jobId} on unknown agent ${p.agentId}`);
    const where = `job ${p.jobId} on ${p.agentId}`;
    if (!agent.queues.includes(job.queue)) throw new PlacementCheckError(`${where}: queue ${job.queue} not taken`);
    if (!agent.tasks.has(job.task)) throw new PlacementCheckError(`${where}: task ${job.task} not served`);
    for (const tag of job.constraints.tags) {
      if (!agent.tags.includes(tag)) throw new PlacementCheckError(`${where}: tag ${tag} missing`);
    }
    if (p.gpus.length !== job.resources.gpus) {
      throw new PlacementCheckError(`${where}: needs ${job.resources.gpus} GPUs, got ${p.gpus.length}`);
    }
    let u = used.get(agent.id);
    if (!u) used.set(agent.id, (u = { slots: 0, cpu: 0, memoryMb: 0, gpus: new Set() }));
    u.slots += job.resources.slots;
    u.cpu += job.resources.cpu;
    u.memoryMb += job.resources.memoryMb;
    for (const gpu of p.gpus) {
      if (!agent.freeGpus.includes(gpu)) throw new PlacementCheckError(`${where}: GPU ${gpu} is not free`);
      if (u.gpus.has(gpu)) throw new PlacementCheckError(`${where}: GPU ${gpu} handed out twice`);
      u.gpus.add(gpu);
    }
    if (u.slots > agent.freeSlots) throw new PlacementCheckError(`${where}: over its ${agent.freeSlots} free slots`);
    if (u.cpu > agent.freeCpu) throw new PlacementCheckError(`${where}: over its ${agent.freeCpu} free cores`);
    if (u.memoryMb > agent.freeMemoryMb) {
      throw new PlacementCheckError(`${where}: over its ${agent.freeMemoryMb} MiB free memory`);
    }
  }
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const sameDecisions = (a: readonly Placement[], b: readonly Placement[]) =>
  a.length === b.length &&
  a.every((p, i) => {
    const q = b[i]!;
    return p.jobId === q.jobId && p.agentId === q.agentId && p.gpus.join(',') === q.gpus.join(',');
  });

const WARM_UP_MS = 250;

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/**
 * Times `place(jobs, agents)` on a synthetic fleet: warm-up calls (one, or more until 250 ms
 * have passed, at most 20), then `samples` timed
 * calls; reports the median. Every call's placements are checked against the capacities and
 * against the first call's (the pass is deterministic), so `ok` is false if either fails.
 */
export function runScheduler(options: SchedulerOptions): { line: SchedulerLine; placements: Placement[] } {
  const seed = options.seed ?? DEFAULT_SEED;
  const samples = options.samples ?? 5;
  const input = buildSchedulerInput(options.agents, options.jobs, seed);
  options.log?.(
    `scheduler: ${options.agents} agents (${input.freeSlots} free slots, ${input.freeGpus} free GPUs), ` +
      `${options.jobs} pending jobs, seed ${seed}`,
  );
  const warmStart = performance.now();
  const first = place(input.jobs, input.agents).placements;
  // Small passes are over before the JIT settles: warm up for at least WARM_UP_MS.
  for (let i = 1; i < 20 && performance.now() - warmStart < WARM_UP_MS; i++) place(input.jobs, input.agents);
  let ok = true;
  try {
    checkPlacements(input.jobs, input.agents, first);
  } catch (err) {
    if (!(err instanceof PlacementCheckError)) throw err;
    options.log?.(`scheduler: placements fail the check: ${err.message}`);
    ok = false;
  }
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    const { placements } = place(input.jobs, input.agents);
    times.push(performance.now() - t0);
    if (!sameDecisions(first, placements)) {
      options.log?.('scheduler: a pass over the same input decided differently');
      ok = false;
    }
  }
  const passMs = median(times);
  options.log?.(`scheduler: pass times ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
  const line: SchedulerLine = {
    system: 'baton',
    workload: 'scheduler',
    agents: options.agents,
    jobs: options.jobs,
    placements: first.length,
    gpu_placements: first.filter((p) => p.gpus.length > 0).length,
    free_slots: input.freeSlots,
    free_gpus: input.freeGpus,
    pass_ms: round(passMs, 2),
    placements_per_s: Math.round(first.length / (passMs / 1000)),
    us_per_job: round((passMs * 1000) / options.jobs, 3),
    samples,
    seed,
    ok,
  };
  return { line, placements: first };
}

export const SCALING_SIZES = [
  { agents: 100, jobs: 10_000 },
  { agents: 1_000, jobs: 100_000 },
  { agents: 10_000, jobs: 1_000_000 },
] as const;

/** Rough heap bytes per pending job while a pass runs (input, pass state, result), generous. */
const BYTES_PER_JOB = 1_500;
/** Total time the scaling runs aim to stay under. */
const SCALING_BUDGET_MS = 60_000;

/**
 * Runs the scaling sizes, smallest first, so the report shows how the cost per job grows. A
 * size is skipped, with a log line, when its inputs would not fit the heap or its passes
 * (projected from the previous size, ×10 jobs with a log factor of slack) would overrun the
 * budget.
 */
export function runSchedulerScaling(options: {
  seed?: number;
  log?: (line: string) => void;
  samples?: number;
}): SchedulerLine[] {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const lines: SchedulerLine[] = [];
  let previous: { jobs: number; passMs: number } | null = null;
  for (const [index, size] of SCALING_SIZES.entries()) {
    const last = index === SCALING_SIZES.length - 1;
    // Small passes are noisy (JIT, GC), so they take more samples; the largest takes three.
    const samples = last ? Math.min(options.samples ?? 9, 3) : (options.samples ?? 9);
    const heap = getHeapStatistics();
    const needBytes = size.jobs * BYTES_PER_JOB;
    const haveBytes = heap.heap_size_limit - heap.used_heap_size;
    if (needBytes > haveBytes * 0.8) {
      log(
        `scaling: skipping ${size.agents} agents × ${size.jobs} jobs: needs about ${mb(needBytes)} MB of heap, ` +
          `${mb(haveBytes)} MB left (raise it with NODE_OPTIONS=--max-old-space-size=MB)`,
      );
      continue;
    }
    if (previous) {
      const ratio = size.jobs / previous.jobs;
      // Linear in jobs times a log factor, twice over for slack; plus the build and the check.
      const projected = previous.passMs * ratio * 2 * (samples + 3);
      const left = SCALING_BUDGET_MS - (performance.now() - started);
      if (projected > left) {
        log(
          `scaling: skipping ${size.agents} agents × ${size.jobs} jobs: projected ${(projected / 1000).toFixed(0)} s, ` +
            `${(left / 1000).toFixed(0)} s left of the ${SCALING_BUDGET_MS / 1000} s budget`,
        );
        continue;
      }
    }
    const { line } = runScheduler({ ...size, samples, ...(options.seed !== undefined && { seed: options.seed }), log });
    lines.push(line);
    previous = { jobs: size.jobs, passMs: line.pass_ms };
  }
  return lines;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
