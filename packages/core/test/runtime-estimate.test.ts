import { describe, expect, it } from 'vitest';
import {
  RUNTIME_MIN_SAMPLES,
  RUNTIME_SAMPLES_KEPT,
  RuntimeHistory,
  estimateRuntimeMs,
  expectedRuntime,
  runtimeClassKey,
} from '@baton/core';

/** Equal weights: a half-life far longer than the samples kept. */
const FLAT = { halfLifeSamples: 1e9 };

/** Feeds `runtimes` (oldest first) into a fresh history and answers the class's estimate after each. */
function estimatesAfter(runtimes: number[], seed: number[] = []): (number | null)[] {
  const history = new RuntimeHistory();
  for (const ms of seed) history.record('k', ms);
  return runtimes.map((ms) => {
    history.record('k', ms);
    return history.estimate('k');
  });
}

describe('estimateRuntimeMs', () => {
  it('takes the weighted quantile, worked by hand with equal weights', () => {
    // Total weight 3; 0.9 · 3 = 2.7 is reached at the third sample by size, 0.5 · 3 = 1.5 at the second.
    expect(estimateRuntimeMs([30, 10, 20], FLAT)).toBe(30);
    expect(estimateRuntimeMs([30, 10, 20], { ...FLAT, quantile: 0.5 })).toBe(20);
    // A target exactly on a boundary stays there: 0.5 · 2 = 1 is the first sample's weight.
    expect(estimateRuntimeMs([20, 10], { ...FLAT, quantile: 0.5, minSamples: 2 })).toBe(10);
    // Ten samples 1..10: 0.9 · 10 = 9 is reached at 9.
    expect(estimateRuntimeMs([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], FLAT)).toBe(9);
  });

  it('weighs newer samples more, worked by hand with a half-life of one sample', () => {
    // Weights 1, 1/2, 1/4 (newest first); total 1.75.
    const options = { halfLifeSamples: 1, quantile: 0.5 };
    // By size: 10 (weight 1/4), 20 (1/2), 40 (1): cumulative 0.25, 0.75, 1.75: 0.875 at 40.
    expect(estimateRuntimeMs([40, 20, 10], options)).toBe(40);
    // By size: 10 (1), 20 (1/2), 40 (1/4): 0.875 is reached at 10 already.
    expect(estimateRuntimeMs([10, 20, 40], options)).toBe(10);
    // By size: 10 (1/2), 20 (1/4), 40 (1): cumulative 0.5, 0.75, 1.75: 0.875 at 40.
    expect(estimateRuntimeMs([40, 10, 20], options)).toBe(40);
    // By size: 10 (1/4), 20 (1), 40 (1/2): cumulative 0.25, 1.25: 0.875 at 20.
    expect(estimateRuntimeMs([20, 40, 10], options)).toBe(20);
  });

  it('gives nothing below the minimum of samples, and skips samples that are not runtimes', () => {
    expect(RUNTIME_MIN_SAMPLES).toBe(3);
    expect(estimateRuntimeMs([])).toBeNull();
    expect(estimateRuntimeMs([100, 200])).toBeNull();
    expect(estimateRuntimeMs([100, 200, 300])).not.toBeNull();
    expect(estimateRuntimeMs([100, Number.NaN, -1, Infinity, 200])).toBeNull();
    expect(estimateRuntimeMs([100, 200], { minSamples: 2 })).toBe(200);
  });

  it('reads no more than the samples a store keeps', () => {
    // The newest 32 are short; a long run past the cap is ignored, as a store would have dropped it.
    const samples = [...Array.from({ length: RUNTIME_SAMPLES_KEPT }, () => 100), 1_000_000];
    expect(estimateRuntimeMs(samples)).toBe(100);
    expect(estimateRuntimeMs(samples.slice(0, RUNTIME_SAMPLES_KEPT - 1).concat([1_000_000]))).toBe(100);
  });

  it('rounds to whole milliseconds', () => {
    expect(estimateRuntimeMs([10.4, 10.6, 10.2], FLAT)).toBe(11);
  });
});

describe('decay', () => {
  const steady = Array.from({ length: RUNTIME_SAMPLES_KEPT }, () => 60_000);

  it('learns a longer workload within a few samples', () => {
    const after = estimatesAfter([120_000, 120_000, 120_000], steady);
    expect(estimateRuntimeMs(steady)).toBe(60_000);
    // The newest two samples weigh more than a tenth of all 32.
    expect(after).toEqual([60_000, 120_000, 120_000]);
  });

  it('learns a shorter workload only after enough samples', () => {
    const after = estimatesAfter(
      Array.from({ length: RUNTIME_SAMPLES_KEPT }, () => 30_000),
      steady,
    );
    const firstShort = after.indexOf(30_000);
    // About three half-lives (8 samples each): an estimate too long only backfills less.
    expect(firstShort).toBeGreaterThanOrEqual(16);
    expect(firstShort).toBeLessThanOrEqual(24);
    expect(after.slice(0, firstShort).every((ms) => ms === 60_000)).toBe(true);
    expect(after.slice(firstShort).every((ms) => ms === 30_000)).toBe(true);
  });
});

describe('RuntimeHistory', () => {
  it('keeps each class newest first, capped', () => {
    const history = new RuntimeHistory();
    for (let i = 1; i <= RUNTIME_SAMPLES_KEPT + 5; i++) history.record('a', i);
    history.record('b', 7);
    const a = history.samplesOf('a');
    expect(a).toHaveLength(RUNTIME_SAMPLES_KEPT);
    expect(a[0]).toBe(RUNTIME_SAMPLES_KEPT + 5);
    expect(a.at(-1)).toBe(6);
    expect(history.samplesOf('b')).toEqual([7]);
    expect(history.samplesOf('c')).toEqual([]);
    expect(history.estimate('b')).toBeNull();
  });
});

describe('expectedRuntime', () => {
  it('prefers the limit, then history, then none', () => {
    expect(expectedRuntime(5000, 100)).toEqual({ ms: 5000, source: 'limit' });
    expect(expectedRuntime(null, 100)).toEqual({ ms: 100, source: 'history' });
    expect(expectedRuntime(undefined, 0)).toEqual({ ms: 0, source: 'history' });
    expect(expectedRuntime(null, null)).toEqual({ ms: null, source: 'none' });
    expect(expectedRuntime(undefined, undefined)).toEqual({ ms: null, source: 'none' });
  });
});

describe('runtimeClassKey', () => {
  it('tells owners, tasks and resource shapes apart', () => {
    const r = { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 };
    const key = runtimeClassKey('ann', 'train', r);
    expect(runtimeClassKey('ann', 'train', { ...r })).toBe(key);
    expect(runtimeClassKey('bob', 'train', r)).not.toBe(key);
    expect(runtimeClassKey('ann', 'eval', r)).not.toBe(key);
    expect(runtimeClassKey('ann', 'train', { ...r, gpus: 8 })).not.toBe(key);
    expect(runtimeClassKey('ann', 'train', { ...r, memoryMb: 1024 })).not.toBe(key);
    // Owner and task are separated so that no two pairs read alike.
    expect(runtimeClassKey('a', 'bc', r)).not.toBe(runtimeClassKey('ab', 'c', r));
  });
});
