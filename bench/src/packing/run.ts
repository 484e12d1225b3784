import type { PlacementOptions } from '@baton/core';
import { round } from '../stats.js';
import type { Estimates, PolicyName } from './policies.js';
import type { PackingLine } from './report.js';
import { DEFAULT_HALF_LIFE_S, makePolicy } from './policies.js';
import { DEFAULT_FAIR_WINDOW_S, summarize, table, utilizationOf } from './report.js';
import type { SimResult } from './simulator.js';
import { simulate } from './simulator.js';
import { describeFleet, readTrace } from './trace.js';

export interface PackingOptions {
  /** Path of a JSONL trace (`shared/traces/*.jsonl`). */
  trace: string;
  /** Policies to run, in this order. */
  policies: readonly PolicyName[];
  /** Options for Baton's `place()` (default: its defaults). */
  placement?: PlacementOptions;
  /**
   * Treat every job as priority `normal`, so order is submit order alone: the conditions under
   * which the reference figures of shared/BENCHMARKS.md were taken.
   */
  ignorePriority?: boolean;
  /**
   * Jobs' time limits: `none` (default: no job has one), `exact` (each job's limit is its
   * duration) or `x2` (twice its duration: a padded estimate, the realistic case). Baton's
   * policy uses them; the baselines ignore them.
   */
  timeLimits?: TimeLimits;
  /** `baton-fair`: half-life of the decayed usage, simulated seconds (default 3600). */
  halfLifeS?: number;
  /** `baton-fair`'s users' weights, and the fairness metric's (absent: 1). */
  weights?: ReadonlyMap<string, number>;
  /** Length of the fairness windows, simulated seconds (default 600). */
  fairWindowS?: number;
  log?: (line: string) => void;
}

/** The utilization cost goal of fair share (the issue's): under 2 %. */
export const FAIR_SHARE_UTIL_COST_GOAL = 0.02;

/** `learned`: no job has a limit and Baton learns runtimes from the jobs that finished. */
export const TIME_LIMITS = ['none', 'exact', 'x2', 'learned'] as const;
export type TimeLimits = (typeof TIME_LIMITS)[number];

/**
 * `npm run bench -- packing --trace FILE`: the trace through the simulator once per policy.
 * Returns one line per policy; logs a table of them.
 */
export async function runPacking(options: PackingOptions): Promise<PackingLine[]> {
  const log = options.log ?? (() => {});
  const trace = await readTrace(options.trace);
  if (options.ignorePriority) for (const job of trace.jobs) job.priority = 'normal';
  const timeLimits = options.timeLimits ?? 'none';
  if (timeLimits === 'exact' || timeLimits === 'x2') {
    const factor = timeLimits === 'exact' ? 1 : 2;
    for (const job of trace.jobs) job.timeLimitS = job.durationS * factor;
  }
  log(
    `packing: ${trace.name}, ${trace.jobs.length} jobs (${trace.mode}), fleet ${describeFleet(trace.fleet)} (agents × GPUs)` +
      (options.ignorePriority ? ', priorities ignored' : '') +
      `, time limits ${timeLimits}`,
  );
  const halfLifeS = options.halfLifeS ?? DEFAULT_HALF_LIFE_S;
  const weights = options.weights ?? new Map<string, number>();
  const fair = { windowS: options.fairWindowS ?? DEFAULT_FAIR_WINDOW_S, weights };
  const lines: PackingLine[] = [];
  const results = new Map<string, SimResult>();
  for (const name of options.policies) {
    const started = performance.now();
    const policy = makePolicy(name, options.placement, estimatesOf(timeLimits), { halfLifeS, weights });
    const result = simulate(trace, policy);
    results.set(name, result);
    let line: PackingLine = { ...summarize(result, policy.placements, fair), time_limits: timeLimits };
    if (options.ignorePriority) line = { ...line, priorities: 'ignored' };
    if (name === 'baton-fair') {
      line.half_life_s = halfLifeS;
      if (weights.size > 0) line.weights = Object.fromEntries(weights);
    }
    lines.push(line);
    log(`${name}: simulated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const baton = results.get('baton');
  const batonFair = results.get('baton-fair');
  const fairLine = lines.find((l) => l.system === 'baton-fair');
  if (baton && batonFair && fairLine) {
    const plain = utilizationOf(baton);
    const withFair = utilizationOf(batonFair);
    fairLine.fair_share_util_cost =
      plain !== null && withFair !== null && plain > 0 ? round((plain - withFair) / plain, 5) : null;
  }
  log(`\n${table(lines)}`);
  const summary = fairShareSummary(lines);
  if (summary) log(summary);
  return lines;
}

/** What Baton's policy knows of runtimes under each `--time-limits` setting. */
export function estimatesOf(timeLimits: TimeLimits): Estimates {
  return timeLimits === 'none' ? 'none' : timeLimits === 'learned' ? 'learned' : 'limits';
}

/** baton, baton-fair and the first-fit / FIFO baselines side by side on fairness, for people. */
export function fairShareSummary(lines: readonly PackingLine[]): string | null {
  const fairLine = lines.find((l) => l.system === 'baton-fair');
  if (!fairLine) return null;
  const jain = (l: PackingLine) =>
    l.jain_mean === null ? `- (no window)` : `${l.jain_mean.toFixed(3)} (min ${l.jain_min!.toFixed(3)})`;
  const shown = ['baton', 'baton-fair', 'first-fit', 'fifo']
    .map((name) => lines.find((l) => l.system === name))
    .filter((l): l is PackingLine => l !== undefined);
  const out = [
    `fair share: ${fairLine.users} users, half-life ${fairLine.half_life_s} s, windows of ${fairLine.fair_window_s} s, ` +
      `${fairLine.fair_windows} of ${fairLine.fair_windows_total} with every user backlogged (baton-fair's run)`,
    ...shown.map(
      (l) =>
        `  ${l.system.padEnd(10)}  Jain mean ${jain(l)}  over ${l.fair_windows} windows; ` +
        `util ${l.utilization?.toFixed(4) ?? '-'}, makespan ${l.makespan_s?.toFixed(0) ?? '-'} s`,
    ),
  ];
  const cost = fairLine.fair_share_util_cost;
  if (cost !== undefined && cost !== null) {
    const met = cost < FAIR_SHARE_UTIL_COST_GOAL ? 'met' : 'NOT met';
    out.push(`  utilization cost of fair share: ${(cost * 100).toFixed(2)} % (goal < 2 %: ${met})`);
  }
  return out.join('\n');
}
