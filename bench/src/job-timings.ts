import { performance } from 'node:perf_hooks';

/**
 * What a benchmark's no-op handler records per run of a job, on the side that runs it: the
 * in-process agent in the bench's own process, or a `baton agent` process loading
 * `agent-tasks.ts` (which sends these to the bench over its IPC channel).
 */

/** The throughput workload's task and queue. */
export const NOOP_TASK = 'bench.noop';
/** The latency workload's task. */
export const LATENCY_TASK = 'bench.latency';
export const BENCH_QUEUE = 'bench';

/** Where the agent runs the jobs: in the bench's process on the server's in-process link, or a `baton agent` process. */
export const AGENT_MODES = ['in-process', 'remote'] as const;
export type AgentMode = (typeof AGENT_MODES)[number];

/**
 * The like-for-like rule (shared/BENCHMARKS.md): on PostgreSQL and Redis, Baton's figures come
 * from a server and a separate agent process; the embedded SQLite runs its agent in process, as
 * `baton dev` does.
 */
export function defaultAgentMode(storeUrl: string | undefined): AgentMode {
  return storeUrl !== undefined && /^(postgres(ql)?|rediss?(\+cluster)?):\/\//i.test(storeUrl)
    ? 'remote'
    : 'in-process';
}

/** A job's payload in these workloads: its index in the run and when it was submitted. */
export interface TimedPayload {
  i: number;
  t: number;
}

/** One entry per handler call, in call order (a job run twice appears twice). */
export interface Timings {
  /** The payload's `i`. */
  i: number[];
  /** The payload's `t` (epoch ms when submitted). */
  t: number[];
  /** Handler start and end, epoch ms. */
  s: number[];
  e: number[];
}

/** Epoch ms with sub-ms resolution, comparable across processes (as the peers take it). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export class TimingRecorder {
  readonly timings: Timings = { i: [], t: [], s: [], e: [] };
  private readonly seen = new Set<number>();

  /** `onAll` is called once, when every job `0…expected-1` has run. */
  constructor(
    private readonly expected: number,
    private readonly onAll: () => void,
  ) {}

  get distinct(): number {
    return this.seen.size;
  }

  get calls(): number {
    return this.timings.i.length;
  }

  record(payload: TimedPayload, s: number, e: number): void {
    const { timings } = this;
    timings.i.push(payload.i);
    timings.t.push(payload.t);
    timings.s.push(s);
    timings.e.push(e);
    const i = payload.i;
    if (Number.isInteger(i) && i >= 0 && i < this.expected && !this.seen.has(i)) {
      this.seen.add(i);
      if (this.seen.size === this.expected) this.onAll();
    }
  }
}

/** The no-op handler both agents run: start and end taken first, then recorded. */
export function noopHandler(recorder: TimingRecorder): (payload: TimedPayload) => Promise<null> {
  return (payload) => {
    const s = nowMs();
    const e = nowMs();
    recorder.record(payload, s, e);
    return Promise.resolve(null);
  };
}

/** Per job index `0…n-1`: the first run's start, end and submit time (0 where it never ran). */
export interface PerJob {
  enq: Float64Array;
  start: Float64Array;
  end: Float64Array;
  /** Distinct jobs of `0…n-1` that ran. */
  distinct: number;
  /** Runs beyond a job's first. */
  duplicates: number;
  /** Runs whose `i` is not a job of this run. */
  invalid: number;
  firstStart: number;
  lastEnd: number;
}

export function perJob(timings: Timings, n: number): PerJob {
  const enq = new Float64Array(n);
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  let distinct = 0;
  let duplicates = 0;
  let invalid = 0;
  let firstStart = Infinity;
  let lastEnd = 0;
  for (let k = 0; k < timings.i.length; k++) {
    const i = timings.i[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      invalid++;
      continue;
    }
    if (start[i] !== 0) {
      duplicates++;
      continue;
    }
    const s = timings.s[k] as number;
    const e = timings.e[k] as number;
    start[i] = s;
    end[i] = e;
    enq[i] = timings.t[k] as number;
    distinct++;
    if (s < firstStart) firstStart = s;
    if (e > lastEnd) lastEnd = e;
  }
  return { enq, start, end, distinct, duplicates, invalid, firstStart, lastEnd };
}
