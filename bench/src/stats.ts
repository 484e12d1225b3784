/**
 * Nearest-rank percentile of an ascending-sorted sample: the smallest value with at least
 * `p` percent of the sample at or below it. Same definition as the peer harness
 * (`shared/bench/peers/lib/common.mjs`), so the two sides' p50/p99 compare like for like.
 * Returns null for an empty sample.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (!Number.isFinite(p) || p < 0 || p > 100) throw new RangeError(`percentile must be within 0–100, got ${p}`);
  const n = sorted.length;
  if (n === 0) return null;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))] ?? null;
}

/** A sorted copy of the values, as a Float64Array (numeric sort, not lexicographic). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** Rounds to `digits` decimals; non-finite values become null. */
export function round(x: number | null, digits = 3): number | null {
  if (x === null || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The median of a sample (nearest rank), for summarizing repeats. */
export function median(values: ArrayLike<number>): number | null {
  return percentile(sortedCopy(values), 50);
}
