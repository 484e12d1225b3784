import type { JobRecord } from './simulator.js';
import type { TraceJob } from './trace.js';

/**
 * Fairness of a simulated run: Jain's index of the GPU-seconds each user received, over their
 * weight, in the windows of simulated time in which every user was backlogged.
 *
 * - Users: every distinct `user` of the trace's jobs (a job without one counts as user `""`).
 * - Windows: `[t0 + k·W, t0 + (k+1)·W)` for k = 0, 1, …, where t0 is the first submission and
 *   W the window length, as long as the window ends by the last completion (whole windows only).
 * - A user is waiting at instant t when one of their jobs has `submitAt ≤ t < start` (submitted,
 *   not started). A user is backlogged through a window when they are waiting at every instant
 *   of it: the union of their jobs' waiting intervals `[submitAt, start)` covers the window.
 *   A window counts when every user is backlogged through it.
 * - In a counted window, user i received x_i = Σ over their jobs of GPUs × the overlap of
 *   `[start, finish)` with the window, divided by their weight (default 1), and
 *   J = (Σx)² / (n · Σx²): 1 when all get the same, 1/n when one user gets everything (and 1 when
 *   nobody got anything: all equal).
 */

/** Jain's fairness index of the values: (Σx)² / (n·Σx²); 1 for an empty or all-zero input. */
export function jainIndex(values: readonly number[]): number {
  let sum = 0;
  let squares = 0;
  for (const x of values) {
    sum += x;
    squares += x * x;
  }
  if (values.length === 0 || squares === 0) return 1;
  return (sum * sum) / (values.length * squares);
}

export interface FairnessOptions {
  /** Window length in seconds. */
  windowS: number;
  /** Users' weights (absent: 1). */
  weights?: ReadonlyMap<string, number>;
}

export interface WindowFairness {
  start: number;
  end: number;
  /** GPU-seconds over weight, per user, in the trace's order of users. */
  shares: number[];
  jain: number;
}

export interface Fairness {
  /** The trace's users, in order of their first job. */
  users: string[];
  /** Whole windows in the run (counted or not). */
  windows: number;
  /** The windows in which every user was backlogged throughout. */
  counted: WindowFairness[];
  /** Mean and minimum of Jain's index over the counted windows; null when none counted. */
  jainMean: number | null;
  jainMin: number | null;
}

/** Merged waiting intervals `[submitAt, start)` per user, ascending and disjoint. */
export function waitingIntervals(records: readonly JobRecord[]): Map<string, [number, number][]> {
  const byUser = new Map<string, [number, number][]>();
  for (const r of records) {
    let list = byUser.get(r.job.user);
    if (!list) byUser.set(r.job.user, (list = []));
    if (r.start > r.job.submitAt) list.push([r.job.submitAt, r.start]);
  }
  for (const [user, list] of byUser) {
    list.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const [a, b] of list) {
      const last = merged[merged.length - 1];
      if (last && a <= last[1]) last[1] = Math.max(last[1], b);
      else merged.push([a, b]);
    }
    byUser.set(user, merged);
  }
  return byUser;
}

/** Whether the intervals (merged, ascending) cover `[start, end)`. */
export function covers(intervals: readonly [number, number][], start: number, end: number): boolean {
  // The one interval that could cover it: the last that begins at or before `start`.
  let lo = 0;
  let hi = intervals.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (intervals[mid]![0] <= start) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && intervals[found]![1] >= end;
}

/** The trace's users, in order of their first job. */
export function usersOf(jobs: readonly TraceJob[]): string[] {
  return [...new Set(jobs.map((j) => j.user))];
}

export function fairness(records: readonly JobRecord[], options: FairnessOptions): Fairness {
  const { windowS } = options;
  if (!(windowS > 0)) throw new RangeError(`the fairness window must be positive, got ${windowS}`);
  const users = usersOf([...records].sort((a, b) => a.job.seq - b.job.seq).map((r) => r.job));
  const index = new Map(users.map((u, i) => [u, i]));
  const weightOf = (user: string) => {
    const w = options.weights?.get(user);
    return w !== undefined && w > 0 ? w : 1;
  };
  let first = Infinity;
  let last = -Infinity;
  for (const r of records) {
    first = Math.min(first, r.job.submitAt);
    last = Math.max(last, r.finish);
  }
  const windows = records.length > 0 ? Math.floor((last - first) / windowS) : 0;
  const waiting = waitingIntervals(records);
  const counted: WindowFairness[] = [];
  const countedAt = new Map<number, WindowFairness>();
  for (let k = 0; k < windows; k++) {
    const start = first + k * windowS;
    const end = start + windowS;
    if (users.every((u) => covers(waiting.get(u) ?? [], start, end))) {
      const w: WindowFairness = { start, end, shares: new Array<number>(users.length).fill(0), jain: 1 };
      counted.push(w);
      countedAt.set(k, w);
    }
  }
  if (counted.length > 0) {
    for (const r of records) {
      // Only the windows this job overlaps.
      const kFrom = Math.max(0, Math.floor((r.start - first) / windowS));
      const kTo = Math.min(windows - 1, Math.floor((r.finish - first) / windowS));
      for (let k = kFrom; k <= kTo; k++) {
        const w = countedAt.get(k);
        if (!w) continue;
        const overlap = Math.min(r.finish, w.end) - Math.max(r.start, w.start);
        if (overlap > 0) w.shares[index.get(r.job.user)!]! += (r.job.gpus * overlap) / weightOf(r.job.user);
      }
    }
    for (const w of counted) w.jain = jainIndex(w.shares);
  }
  const jains = counted.map((w) => w.jain);
  return {
    users,
    windows,
    counted,
    jainMean: jains.length > 0 ? jains.reduce((a, b) => a + b, 0) / jains.length : null,
    jainMin: jains.length > 0 ? Math.min(...jains) : null,
  };
}
