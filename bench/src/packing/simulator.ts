import { performance } from 'node:perf_hooks';
import { priorityRank } from '@baton/core';
import type { Trace, TraceJob } from './trace.js';

/**
 * A discrete-event simulation of a GPU fleet running a trace under one placement policy.
 * Agent i has G_i GPUs (device indices `0…G_i-1`) and G_i slots; a job takes one slot
 * and its GPUs from its start until `start + durationS`. Events are arrivals and completions;
 * after all events of one instant the policy decides over every pending job, in priority order
 * then submit order. Every decision is checked, so a policy that hands out a busy GPU fails
 * the run instead of skewing it.
 */

/** What a policy sees of the fleet at a decision point. */
export interface FleetView {
  /** GPUs (and slots) of each agent, by index. */
  readonly agentGpus: readonly number[];
  /** Free device indices per agent, ascending. */
  readonly freeGpus: readonly (readonly number[])[];
  /** Jobs running per agent (each holds one slot). */
  readonly runningJobs: readonly number[];
  /** The jobs running on each agent (start and GPUs; a policy may read their time limits). */
  readonly running: readonly (readonly JobRecord[])[];
  /** The instant of the decision (seconds). */
  readonly now: number;
  /**
   * The jobs that completed since the previous decision (or since the start), valid during the
   * call: with `running`, everything that held GPUs since then, for usage accounting.
   */
  readonly finished: readonly JobRecord[];
}

export interface Decision {
  job: TraceJob;
  agent: number;
  gpus: number[];
}

export interface Policy {
  /** The report's `system`: `baton`, `first-fit`, `fifo`. */
  readonly name: string;
  /** Jobs to start now. `pending` is in priority order, then submit order. */
  decide(pending: readonly TraceJob[], fleet: FleetView): Decision[];
}

export interface JobRecord {
  job: TraceJob;
  start: number;
  finish: number;
  agent: number;
  gpus: number[];
}

export interface SimResult {
  trace: Trace;
  policy: string;
  /** By `job.seq`. */
  records: JobRecord[];
  /** Decision points (instants with at least one pending job). */
  passes: number;
  /** Wall-clock seconds spent in the policy's `decide`. */
  decideSeconds: number;
}

export class SimulationError extends Error {}

export function simulate(trace: Trace, policy: Policy): SimResult {
  const { agentGpus } = trace.fleet;
  const agents = agentGpus.length;
  const jobs = trace.jobs;
  const freeGpus: number[][] = agentGpus.map((g) => Array.from({ length: g }, (_, i) => i));
  const runningJobs: number[] = new Array<number>(agents).fill(0);
  const runningOn: JobRecord[][] = Array.from({ length: agents }, () => []);
  const finished: JobRecord[] = [];
  const fleet = { agentGpus, freeGpus, runningJobs, running: runningOn, now: 0, finished };
  const records: (JobRecord | undefined)[] = new Array<JobRecord | undefined>(jobs.length);
  const running = new CompletionQueue();
  const pendingOrder = (a: TraceJob, b: TraceJob) =>
    priorityRank(a.priority) - priorityRank(b.priority) || a.seq - b.seq;
  let pending: TraceJob[] = [];
  let next = 0;
  let passes = 0;
  let decideSeconds = 0;

  while (next < jobs.length || running.size > 0) {
    const arrival = next < jobs.length ? jobs[next]!.submitAt : Infinity;
    const now = Math.min(arrival, running.size > 0 ? running.peek().finish : Infinity);
    while (running.size > 0 && running.peek().finish === now) {
      const done = running.pop();
      const free = freeGpus[done.agent]!;
      free.push(...done.gpus);
      free.sort((x, y) => x - y);
      runningJobs[done.agent]!--;
      const on = runningOn[done.agent]!;
      on.splice(on.indexOf(done), 1);
      finished.push(done);
    }
    let arrived = false;
    while (next < jobs.length && jobs[next]!.submitAt === now) {
      pending.push(jobs[next++]!);
      arrived = true;
    }
    if (arrived) pending.sort(pendingOrder);
    if (pending.length === 0) continue;

    passes++;
    fleet.now = now;
    const t0 = performance.now();
    const decisions = policy.decide(pending, fleet);
    decideSeconds += (performance.now() - t0) / 1000;
    finished.length = 0;
    if (decisions.length === 0) {
      if (running.size === 0 && next >= jobs.length) {
        throw new SimulationError(
          `${policy.name}: ${pending.length} jobs pending on an idle fleet with nothing to come`,
        );
      }
      continue;
    }
    const started = new Set<number>();
    for (const { job, agent, gpus } of decisions) {
      const where = `${policy.name} at t=${now}: job ${job.seq}`;
      if (records[job.seq] !== undefined || started.has(job.seq)) throw new SimulationError(`${where} started twice`);
      if (job.submitAt > now) throw new SimulationError(`${where} started before it was submitted`);
      const free = freeGpus[agent];
      if (!free) throw new SimulationError(`${where} placed on unknown agent ${agent}`);
      if (gpus.length !== job.gpus) throw new SimulationError(`${where} needs ${job.gpus} GPUs, got ${gpus.length}`);
      if (runningJobs[agent]! >= agentGpus[agent]!)
        throw new SimulationError(`${where}: agent ${agent} has no free slot`);
      for (const gpu of gpus) {
        const at = free.indexOf(gpu);
        if (at < 0) throw new SimulationError(`${where}: GPU ${gpu} of agent ${agent} is not free`);
        free.splice(at, 1);
      }
      runningJobs[agent]!++;
      started.add(job.seq);
      const record: JobRecord = { job, start: now, finish: now + job.durationS, agent, gpus: [...gpus] };
      // A job runs past its limit never: the limit is an upper bound the policy may rely on.
      if (job.timeLimitS !== undefined && record.finish > now + job.timeLimitS) {
        throw new SimulationError(`${where} would run ${job.durationS} s, past its time limit of ${job.timeLimitS} s`);
      }
      records[job.seq] = record;
      running.push(record);
      runningOn[agent]!.push(record);
    }
    pending = pending.filter((job) => !started.has(job.seq));
  }
  return { trace, policy: policy.name, records: records as JobRecord[], passes, decideSeconds };
}

/** Running jobs by finish time (then seq, for a deterministic order). */
class CompletionQueue {
  private readonly items: JobRecord[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): JobRecord {
    return this.items[0]!;
  }

  push(record: JobRecord): void {
    const items = this.items;
    items.push(record);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(record, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = record;
  }

  pop(): JobRecord {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(items[r]!, items[l]!) ? r : l;
        if (!before(items[c]!, last)) break;
        items[i] = items[c]!;
        i = c;
      }
      items[i] = last;
    }
    return top;
  }
}

function before(a: JobRecord, b: JobRecord): boolean {
  return a.finish < b.finish || (a.finish === b.finish && a.job.seq < b.job.seq);
}
