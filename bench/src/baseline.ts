import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './stats.js';

/** `bench/baseline.json`, beside the package (this file runs from bench/dist). */
export const DEFAULT_BASELINE_FILE = fileURLToPath(new URL('../baseline.json', import.meta.url));

/** A baseline that cannot be read: the run stops before measuring (exit code 2). */
export class BaselineError extends Error {}

/** The figures each standard point is compared on; `_per_s` higher is better, `_ms` lower. */
export const COMPARED: Record<'throughput' | 'latency', readonly string[]> = {
  throughput: ['process_per_s', 'enqueue_per_s', 'pickup_p50_ms', 'pickup_p99_ms'],
  latency: ['pickup_p50_ms', 'pickup_p99_ms'],
};

export const RATIO_MEANS = 'higher is better: now/baseline for _per_s figures, baseline/now for _ms figures';

/** Below this ratio a figure is flagged (a warning, not a failure: the machines are noisy). */
export const WARN_RATIO = 0.8;

/** One standard point as measured: its sizes and figures, and the build it was measured on. */
export interface BaselinePoint {
  commit: string | null;
  date: string;
  /** False when the run did not verify (e.g. a latency point whose submissions failed); its figures are kept as measured. */
  ok: boolean;
  jobs: number;
  concurrency: number;
  rate?: number;
  seconds?: number;
  [figure: string]: number | string | boolean | null | undefined;
}

export interface BaselineFile {
  note?: string;
  machine?: string;
  /** How the machine was during the run that wrote it, by hand; dropped on the next write. */
  conditions?: string;
  commit?: string | null;
  date?: string;
  /** Keyed `WORKLOAD/BACKEND/AGENT`, e.g. `throughput/redis/remote`. */
  points: Record<string, BaselinePoint>;
}

export const pointKey = (workload: string, backend: string, agent: string) => `${workload}/${backend}/${agent}`;

/** Reads a baseline file; a missing, unparsable or misshapen one is a {@link BaselineError} saying which. */
export async function readBaseline(file: string): Promise<BaselineFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BaselineError(`no baseline file at ${file}; measure one with --write-baseline`);
    }
    throw new BaselineError(`cannot read the baseline ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BaselineError(
      `the baseline ${file} is not valid JSON (${err instanceof Error ? err.message : String(err)}); fix it or rewrite it with --write-baseline`,
    );
  }
  const points = (parsed as { points?: unknown } | null)?.points;
  if (typeof parsed !== 'object' || parsed === null || typeof points !== 'object' || points === null) {
    throw new BaselineError(`the baseline ${file} has no "points" object; fix it or rewrite it with --write-baseline`);
  }
  for (const [key, point] of Object.entries(points)) {
    if (typeof point !== 'object' || point === null) {
      throw new BaselineError(`the baseline ${file}: point "${key}" is not an object`);
    }
  }
  return parsed as BaselineFile;
}

/** The ratio of a figure to its baseline, oriented so that > 1 is better; null where either is missing or zero. */
export function ratioOf(figure: string, now: unknown, base: unknown): number | null {
  if (typeof now !== 'number' || typeof base !== 'number' || !(now > 0) || !(base > 0)) return null;
  return round(figure.endsWith('_ms') ? base / now : now / base, 3);
}

/**
 * The comparison fields of one measured point: `FIGURE_baseline` and `FIGURE_ratio` for each
 * compared figure, the baseline's commit and sizes, and which figures fell below {@link WARN_RATIO}.
 */
export function compareToBaseline(
  line: Record<string, unknown>,
  baseline: BaselineFile | null,
): { fields: Record<string, unknown>; below: string[]; missing: boolean; sizesDiffer: boolean } {
  const workload = line.workload as 'throughput' | 'latency';
  const point = baseline?.points[pointKey(workload, String(line.backend), String(line.agent))];
  const fields: Record<string, unknown> = { ratio_means: RATIO_MEANS };
  const below: string[] = [];
  for (const figure of COMPARED[workload]) {
    const value = point?.[figure];
    const base = typeof value === 'number' ? value : null;
    const ratio = ratioOf(figure, line[figure], base);
    fields[`${figure}_baseline`] = base;
    fields[`${figure}_ratio`] = ratio;
    if (ratio !== null && ratio < WARN_RATIO) below.push(figure);
  }
  const sizes =
    workload === 'throughput' ? (['jobs', 'concurrency'] as const) : (['rate', 'seconds', 'concurrency'] as const);
  const sizesDiffer = point !== undefined && sizes.some((k) => point[k] !== line[k]);
  if (point?.ok === false) fields.baseline_ok = false;
  fields.baseline_commit = point?.commit ?? null;
  fields.baseline_date = point?.date ?? null;
  if (sizesDiffer) fields.baseline_sizes_differ = true;
  fields.below_warn_ratio = below;
  return { fields, below, missing: point === undefined, sizesDiffer };
}

/** The short commit of the working tree, `-dirty` when it has uncommitted changes; null without git. */
export function currentCommit(): string | null {
  const cwd = dirname(DEFAULT_BASELINE_FILE);
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd,
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim();
    return dirty === '' ? commit : `${commit}-dirty`;
  } catch {
    return null;
  }
}

/** The baseline entry of a measured line: its sizes and compared figures. */
export function baselinePointOf(line: Record<string, unknown>, commit: string | null, date: string): BaselinePoint {
  const workload = line.workload as 'throughput' | 'latency';
  const point: BaselinePoint = {
    commit,
    date,
    ok: line.ok === true,
    ...(typeof line.error === 'string' && { error: line.error }),
    ...(typeof line.enqueue_errors === 'number' && { enqueue_errors: line.enqueue_errors }),
    jobs: line.jobs as number,
    concurrency: line.concurrency as number,
    ...(workload === 'latency' && { rate: line.rate as number, seconds: line.seconds as number }),
  };
  for (const figure of COMPARED[workload]) point[figure] = (line[figure] as number | null | undefined) ?? null;
  return point;
}

/** Writes the measured points into the file, keeping its other points (a run with --only replaces only its own). */
export async function writeBaseline(
  file: string,
  previous: BaselineFile | null,
  points: Record<string, BaselinePoint>,
  commit: string | null,
  date: string,
): Promise<void> {
  // `conditions` (a hand-written note on the run, e.g. the machine's load) is not carried over.
  const out: BaselineFile = {
    note: `Figures of \`npm run bench -- standard --write-baseline\` (one run of each point, not medians) on commit ${commit ?? 'unknown'}: the reference \`standard\` takes its ratios against. Rewrite with --write-baseline.`,
    machine: previous?.machine ?? 'a noisy 2-core VM shared with other work',
    commit,
    date,
    points: { ...(previous?.points ?? {}), ...points },
  };
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
}
