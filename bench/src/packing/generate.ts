import type { FleetGroup } from './trace.js';
import { makeFleet } from './trace.js';

/**
 * Deterministic GPU job traces, extended from the shared generator (`shared/traces/
 * gen-gpu-trace.mjs`): the same random stream, so with no task classes and a uniform fleet it
 * writes the shared traces line for line, plus mixed fleets and task classes.
 *
 * Task classes (`taskClasses` > 0): each job belongs to a (user, task) class of one GPU size whose
 * durations are log-normal around the class's own median, as in real clusters where the same
 * script on the same data runs about as long each time: history then predicts runtime. Class
 * medians are log-normal around 10 minutes with σ 0.85 and durations within a class have σ 0.5,
 * so the whole trace's spread (σ ≈ 1) is that of the classless generator. A job's GPU size is
 * drawn from the mix first and its class among those of that size, so the mix holds either way.
 */

export interface TraceSpec {
  seed: number;
  jobs: number;
  mode: 'batch' | 'online';
  /** Online: offered load as a fraction of the fleet's GPUs (default 0.95). */
  load?: number;
  fleet: readonly FleetGroup[];
  /** GPU sizes and their weights (default 1:70,2:12,4:10,8:8). */
  mix?: readonly (readonly [gpus: number, weight: number])[];
  users?: number;
  /** Task classes; 0 (default) draws every duration independently, as the shared generator. */
  taskClasses?: number;
}

export const DEFAULT_MIX: readonly (readonly [number, number])[] = [
  [1, 70],
  [2, 12],
  [4, 10],
  [8, 8],
];

const PRIORITIES = ['high', 'normal', 'normal', 'normal', 'low', 'low'] as const;
/** Median of the durations (and of the class medians): 10 minutes. */
const MEDIAN_S = 600;
const CLASS_MEDIAN_SIGMA = 0.85;
const WITHIN_CLASS_SIGMA = 0.5;

export interface GeneratedJob {
  id: string;
  submitAt: number;
  gpus: number;
  durationS: number;
  priority: (typeof PRIORITIES)[number];
  user: string;
  task?: string;
}

/** The trace as JSONL text: a header line, then one job per line. */
export function generateTrace(spec: TraceSpec): string {
  const { header, jobs } = generateTraceLines(spec);
  return [header, ...jobs].map((l) => JSON.stringify(l)).join('\n') + '\n';
}

export function generateTraceLines(spec: TraceSpec): { header: Record<string, unknown>; jobs: GeneratedJob[] } {
  const fleet = makeFleet(spec.fleet);
  const mix = spec.mix ?? DEFAULT_MIX;
  const load = spec.load ?? 0.95;
  const users = spec.users ?? 8;
  const classes = spec.taskClasses ?? 0;
  for (const [gpus] of mix) {
    if (gpus > fleet.maxGpus)
      throw new RangeError(`the mix has ${gpus}-GPU jobs, more than any agent has (${fleet.maxGpus})`);
  }
  const rand = xorshift32(spec.seed);
  const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const total = mix.reduce((a, [, w]) => a + w, 0);
  const pickGpus = () => {
    let r = rand() * total;
    for (const [g, w] of mix) if ((r -= w) < 0) return g;
    return mix[0]![0];
  };

  // Classes per GPU size, in proportion to the size's weight (at least one each).
  const bySize = new Map<number, { user: string; task: string; medianS: number }[]>();
  if (classes > 0) {
    let c = 0;
    for (const [gpus, weight] of mix) {
      const n = Math.max(1, Math.round((classes * weight) / total));
      const list = [];
      for (let i = 0; i < n; i++, c++) {
        list.push({
          user: `u${Math.floor(rand() * users)}`,
          task: `t${c}`,
          medianS: Math.exp(Math.log(MEDIAN_S) + CLASS_MEDIAN_SIGMA * normal()),
        });
      }
      bySize.set(gpus, list);
    }
  }

  const list: GeneratedJob[] = [];
  for (let i = 0; i < spec.jobs; i++) {
    const gpus = pickGpus();
    if (classes === 0) {
      const durationS = Math.max(5, Math.round(Math.exp(Math.log(MEDIAN_S) + 1.0 * normal())));
      const priority = PRIORITIES[Math.floor(rand() * PRIORITIES.length)]!;
      list.push({ id: `j${i}`, submitAt: 0, gpus, durationS, priority, user: `u${Math.floor(rand() * users)}` });
    } else {
      const options = bySize.get(gpus)!;
      const cls = options[Math.floor(rand() * options.length)]!;
      const durationS = Math.max(5, Math.round(Math.exp(Math.log(cls.medianS) + WITHIN_CLASS_SIGMA * normal())));
      const priority = PRIORITIES[Math.floor(rand() * PRIORITIES.length)]!;
      list.push({ id: `j${i}`, submitAt: 0, gpus, durationS, priority, user: cls.user, task: cls.task });
    }
  }
  if (spec.mode === 'online') {
    const meanWork = list.reduce((a, j) => a + j.gpus * j.durationS, 0) / spec.jobs;
    const rate = (load * fleet.totalGpus) / meanWork;
    let t = 0;
    for (const j of list) {
      t += -Math.log(rand() + 1e-12) / rate;
      j.submitAt = Math.round(t * 1000) / 1000;
    }
  }
  const work = list.reduce((a, j) => a + j.gpus * j.durationS, 0);
  const uniform = spec.fleet.length === 1 ? spec.fleet[0]! : null;
  const header = {
    fleet: uniform ? { agents: uniform.agents, gpusPerAgent: uniform.gpusPerAgent } : { groups: fleet.groups },
    mode: spec.mode,
    seed: spec.seed,
    jobs: spec.jobs,
    gpuSeconds: work,
    makespanLowerBoundS: spec.mode === 'batch' ? makespanLowerBound(list, fleet.agentGpus) : null,
    ...(classes > 0 && { taskClasses: classes }),
    ...(spec.mode === 'online' && { load }),
  };
  return { header, jobs: list };
}

/**
 * A lower bound on a batch's makespan: the longest job, and for every size k the work of the
 * jobs needing more than k GPUs over the GPUs of the agents that can hold them (on a uniform
 * fleet: all work over all GPUs).
 */
export function makespanLowerBound(
  jobs: readonly { gpus: number; durationS: number }[],
  agentGpus: readonly number[],
): number {
  let bound = 0;
  for (const j of jobs) bound = Math.max(bound, j.durationS);
  const sizes = [...new Set(jobs.map((j) => j.gpus))].sort((a, b) => a - b);
  for (const k of [0, ...sizes]) {
    const work = jobs.reduce((a, j) => (j.gpus > k ? a + j.gpus * j.durationS : a), 0);
    if (work === 0) continue;
    const smallest = Math.min(...jobs.filter((j) => j.gpus > k).map((j) => j.gpus));
    const gpus = agentGpus.reduce((a, g) => (g >= smallest ? a + g : a), 0);
    bound = Math.max(bound, work / gpus);
  }
  return bound;
}

/** The shared generator's xorshift32, seeded the same way: uniform in [0, 1). */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** `10x8` or `4x8+8x4+16x1`. */
export function parseFleet(text: string): FleetGroup[] {
  const groups = text.split('+').map((part) => {
    const m = /^(\d+)x(\d+)$/.exec(part.trim());
    if (!m) throw new RangeError(`a fleet is AGENTSxGPUS or groups joined by +, e.g. 10x8 or 4x8+8x4; got "${text}"`);
    return { agents: Number(m[1]), gpusPerAgent: Number(m[2]) };
  });
  if (groups.some((g) => g.agents < 1 || g.gpusPerAgent < 1 || g.agents > 100_000 || g.gpusPerAgent > 1024)) {
    throw new RangeError(`fleet groups need 1–100000 agents of 1–1024 GPUs; got "${text}"`);
  }
  return groups;
}

/** `1:70,2:12,4:10,8:8`. */
export function parseMix(text: string): [number, number][] {
  const mix = text.split(',').map((part) => {
    const m = /^(\d+):(\d+(?:\.\d+)?)$/.exec(part.trim());
    if (!m || Number(m[1]) < 1 || !(Number(m[2]) > 0))
      throw new RangeError(`a mix is GPUS:WEIGHT pairs joined by commas, e.g. 1:70,2:12,8:8; got "${text}"`);
    return [Number(m[1]), Number(m[2])] as [number, number];
  });
  return mix;
}
