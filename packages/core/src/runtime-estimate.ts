import type { Resources } from './job.js';

/**
 * Learned runtime estimates: what a job without a time limit is expected to run at most,
 * learned from the runtimes of earlier jobs of the same owner, task and resource shape. Such
 * jobs in real clusters share a runtime distribution (the same training script on the same
 * data), so history predicts them far better than nothing.
 *
 * An estimate is a planning figure for placement (EASY backfill and reservations), never a
 * limit: no job is killed for outliving it. Each class keeps its last
 * {@link RUNTIME_SAMPLES_KEPT} runtimes, newest first; the estimate is a high weighted quantile
 * of them where each sample weighs half as much as the one {@link RUNTIME_HALF_LIFE_SAMPLES}
 * newer, so a changed workload is learned again. The decay is asymmetric on purpose: runs
 * longer than the estimate move the high quantile within a few samples (an estimate that is too
 * short delays the job a backfill was meant to protect), shorter runs take about three
 * half-lives to pull it down (an estimate that is too long only backfills less).
 */

/** Runtimes kept per class (owner, task, shape), newest first. */
export const RUNTIME_SAMPLES_KEPT = 32;
/** Fewer samples than this give no estimate: one fast run says little. */
export const RUNTIME_MIN_SAMPLES = 3;
/** The weighted quantile taken: high, since the estimate stands for an upper bound. */
export const RUNTIME_QUANTILE = 0.9;
/** A sample weighs half as much as the one this many samples newer. */
export const RUNTIME_HALF_LIFE_SAMPLES = 8;
/** The longest class key a store takes (an owner of 100 characters and a task of 200 fit). */
export const RUNTIME_KEY_MAX_LENGTH = 512;

/** Where a job's expected runtime comes from: its own limit, its class's history, or nowhere. */
export type ExpectedRuntimeSource = 'limit' | 'history' | 'none';

export interface ExpectedRuntime {
  /** Milliseconds, or null when the source is `none`. */
  ms: number | null;
  source: ExpectedRuntimeSource;
}

export interface RuntimeEstimateOptions {
  quantile?: number;
  halfLifeSamples?: number;
  minSamples?: number;
}

/**
 * The class a runtime belongs to: owner, task and the job's resource shape. The shape is part of
 * it since the same task on 8 GPUs and on 1 is rarely the same run. Parts are joined by a space,
 * which no owner or task name holds (the API's names are `[A-Za-z0-9_.:-]`); not by NUL, which
 * PostgreSQL text cannot hold. At most about 350 characters: within {@link RUNTIME_KEY_MAX_LENGTH}.
 */
export function runtimeClassKey(owner: string, task: string, resources: Resources): string {
  const { slots, cpu, memoryMb, gpus } = resources;
  return `${owner} ${task} ${slots}/${cpu}/${memoryMb}/${gpus}`;
}

/**
 * The estimate (ms) from a class's runtimes, newest first; null with fewer than the minimum.
 * Samples past {@link RUNTIME_SAMPLES_KEPT} are ignored, as a store keeps no more.
 */
export function estimateRuntimeMs(
  samplesNewestFirst: readonly number[],
  options: RuntimeEstimateOptions = {},
): number | null {
  const quantile = options.quantile ?? RUNTIME_QUANTILE;
  const halfLife = options.halfLifeSamples ?? RUNTIME_HALF_LIFE_SAMPLES;
  const minSamples = options.minSamples ?? RUNTIME_MIN_SAMPLES;
  const kept: { ms: number; weight: number }[] = [];
  const n = Math.min(samplesNewestFirst.length, RUNTIME_SAMPLES_KEPT);
  for (let i = 0; i < n; i++) {
    const ms = samplesNewestFirst[i]!;
    if (!Number.isFinite(ms) || ms < 0) continue;
    kept.push({ ms, weight: Math.pow(2, -i / halfLife) });
  }
  if (kept.length < minSamples) return null;
  kept.sort((a, b) => a.ms - b.ms);
  const total = kept.reduce((sum, s) => sum + s.weight, 0);
  const target = quantile * total;
  let cumulative = 0;
  for (const s of kept) {
    cumulative += s.weight;
    // A small epsilon so a target exactly on a boundary does not step past it on rounding.
    if (cumulative >= target - 1e-9 * total) return Math.round(s.ms);
  }
  return Math.round(kept[kept.length - 1]!.ms);
}

/**
 * A job's expected runtime: its time limit when it has one (attempts past it are killed, so it
 * is a hard bound), else its class's learned estimate, else none.
 */
export function expectedRuntime(
  timeLimitMs: number | null | undefined,
  learnedMs: number | null | undefined,
): ExpectedRuntime {
  if (timeLimitMs !== null && timeLimitMs !== undefined && timeLimitMs >= 0)
    return { ms: timeLimitMs, source: 'limit' };
  if (learnedMs !== null && learnedMs !== undefined && learnedMs >= 0) return { ms: learnedMs, source: 'history' };
  return { ms: null, source: 'none' };
}

/**
 * Runtimes per class in memory, newest first, capped at {@link RUNTIME_SAMPLES_KEPT}: what a
 * store keeps, for the simulator and for tests.
 */
export class RuntimeHistory {
  private readonly samples = new Map<string, number[]>();

  record(key: string, runtimeMs: number): void {
    let list = this.samples.get(key);
    if (!list) this.samples.set(key, (list = []));
    list.unshift(runtimeMs);
    if (list.length > RUNTIME_SAMPLES_KEPT) list.length = RUNTIME_SAMPLES_KEPT;
  }

  samplesOf(key: string): readonly number[] {
    return this.samples.get(key) ?? [];
  }

  estimate(key: string, options?: RuntimeEstimateOptions): number | null {
    return estimateRuntimeMs(this.samplesOf(key), options);
  }
}
