import { percentile, round, sortedCopy } from '../stats.js';
import type { FairnessOptions } from './fairness.js';
import { fairness } from './fairness.js';
import type { SimResult } from './simulator.js';

/** Default length of the fairness windows (`--fair-window`), in simulated seconds. */
export const DEFAULT_FAIR_WINDOW_S = 600;

/** One line of the packing workload's output (shared/BENCHMARKS.md). */
export interface PackingLine {
  system: string;
  backend: 'sim';
  workload: 'packing';
  trace: string;
  jobs: number;
  /** Busy GPU-seconds over (all GPUs × makespan). */
  utilization: number | null;
  /** First submission to last completion. */
  makespan_s: number | null;
  /** Makespan over the trace's lower bound (batch traces only). */
  makespan_ratio?: number | null;
  mean_wait_s: number | null;
  p99_wait_s: number | null;
  /** Nearest-rank p99 of start − submit, by the jobs' GPU count. */
  p99_wait_s_by_gpus: Record<string, number | null>;
  /** Placements per wall-clock second inside `place()` (policies that call it; informative). */
  placements_per_s?: number | null;
  /** Jobs' time limits in the run (`--time-limits`): `none`, `exact` or `x2`. */
  time_limits?: 'none' | 'exact' | 'x2' | 'learned';
  /** Present when the run treated every job as priority `normal` (`--ignore-priority`). */
  priorities?: 'ignored';
  /** Distinct users of the trace. */
  users: number;
  /** Length of the fairness windows (`--fair-window`), seconds. */
  fair_window_s: number;
  /** Whole windows in the run. */
  fair_windows_total: number;
  /** Windows in which every user was backlogged throughout: those Jain's index is taken over. */
  fair_windows: number;
  /** Mean and minimum over those windows of Jain's index of GPU-seconds per user over weight. */
  jain_mean: number | null;
  jain_min: number | null;
  /** `baton-fair`: the usage half-life, simulated seconds. */
  half_life_s?: number;
  /** `baton-fair`: the users' weights given (`--weights`); users left out weigh 1. */
  weights?: Record<string, number>;
  /**
   * `baton-fair`, when `baton` ran beside it: (util(baton) − util(baton-fair)) / util(baton), from
   * unrounded utilizations. Negative when fair share used the fleet better.
   */
  fair_share_util_cost?: number | null;
}

/** Busy GPU-seconds over (all GPUs × makespan), unrounded; null for an empty run. */
export function utilizationOf(result: SimResult): number | null {
  const gpusTotal = result.trace.fleet.totalGpus;
  let first = Infinity;
  let last = -Infinity;
  let busy = 0;
  for (const r of result.records) {
    first = Math.min(first, r.job.submitAt);
    last = Math.max(last, r.finish);
    busy += r.job.gpus * (r.finish - r.start);
  }
  return last > first ? busy / (gpusTotal * (last - first)) : null;
}

export function summarize(
  result: SimResult,
  placements?: number,
  fair: FairnessOptions = { windowS: DEFAULT_FAIR_WINDOW_S },
): PackingLine {
  const { trace, records } = result;
  const gpusTotal = trace.fleet.totalGpus;
  let first = Infinity;
  let last = -Infinity;
  let busy = 0;
  let waitSum = 0;
  const waits: number[] = [];
  const bySize = new Map<number, number[]>();
  for (const r of records) {
    first = Math.min(first, r.job.submitAt);
    last = Math.max(last, r.finish);
    busy += r.job.gpus * (r.finish - r.start);
    const wait = r.start - r.job.submitAt;
    waitSum += wait;
    waits.push(wait);
    let list = bySize.get(r.job.gpus);
    if (!list) bySize.set(r.job.gpus, (list = []));
    list.push(wait);
  }
  const makespan = records.length > 0 ? last - first : 0;
  const p99BySize: Record<string, number | null> = {};
  for (const size of [...bySize.keys()].sort((a, b) => a - b)) {
    p99BySize[String(size)] = round(percentile(sortedCopy(bySize.get(size)!), 99), 1);
  }
  const batch = trace.mode === 'batch' && trace.makespanLowerBoundS !== null;
  const line: PackingLine = {
    system: result.policy,
    backend: 'sim',
    workload: 'packing',
    trace: trace.name,
    jobs: records.length,
    utilization: makespan > 0 ? round(busy / (gpusTotal * makespan), 4) : null,
    makespan_s: round(makespan, 1),
    ...(batch ? { makespan_ratio: round(makespan / trace.makespanLowerBoundS!, 4) } : {}),
    mean_wait_s: records.length > 0 ? round(waitSum / records.length, 1) : null,
    p99_wait_s: round(percentile(sortedCopy(waits), 99), 1),
    p99_wait_s_by_gpus: p99BySize,
    ...fairnessFields(result, fair),
  };
  if (placements !== undefined) {
    line.placements_per_s = result.decideSeconds > 0 ? Math.round(placements / result.decideSeconds) : null;
  }
  return line;
}

function fairnessFields(result: SimResult, options: FairnessOptions) {
  const f = fairness(result.records, options);
  return {
    users: f.users.length,
    fair_window_s: options.windowS,
    fair_windows_total: f.windows,
    fair_windows: f.counted.length,
    jain_mean: round(f.jainMean, 4),
    jain_min: round(f.jainMin, 4),
  };
}

/** A short table of the lines, for people (stderr). */
export function table(lines: readonly PackingLine[]): string {
  const sizes = [...new Set(lines.flatMap((l) => Object.keys(l.p99_wait_s_by_gpus)))].sort((a, b) => +a - +b);
  const head = [
    'policy',
    'util',
    'makespan_s',
    'ratio',
    'mean_wait_s',
    'p99_wait_s',
    ...sizes.map((s) => `p99@${s}gpu`),
    'jain_mean',
    'jain_min',
    'windows',
  ];
  const rows = lines.map((l) => [
    l.system,
    fmt(l.utilization, 3),
    fmt(l.makespan_s, 0),
    l.makespan_ratio === undefined ? '-' : fmt(l.makespan_ratio, 3),
    fmt(l.mean_wait_s, 1),
    fmt(l.p99_wait_s, 0),
    ...sizes.map((s) => fmt(l.p99_wait_s_by_gpus[s] ?? null, 0)),
    fmt(l.jain_mean, 3),
    fmt(l.jain_min, 3),
    `${l.fair_windows}/${l.fair_windows_total}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const render = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [render(head), ...rows.map(render)].join('\n');
}

function fmt(x: number | null, digits: number): string {
  return x === null ? '-' : x.toFixed(digits);
}
