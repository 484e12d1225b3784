import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { PriorityClass } from '@baton/core';
import { PRIORITY_CLASSES } from '@baton/core';

/**
 * GPU job traces for the packing workload (`shared/traces/*.jsonl`): a header line
 * `{"fleet":{"agents":A,"gpusPerAgent":G},"mode":"batch|online","makespanLowerBoundS":…}`, then
 * one job per line `{"id","submitAt","gpus","durationS","priority","user"[,"task"]}`, times in
 * seconds. A mixed fleet is `"fleet":{"groups":[{"agents":4,"gpusPerAgent":8},…]}`: agents are
 * numbered group after group, in the order given.
 */

export interface FleetGroup {
  agents: number;
  gpusPerAgent: number;
}

export interface TraceFleet {
  groups: FleetGroup[];
  /** GPUs of each agent, by agent index. */
  agentGpus: number[];
  totalGpus: number;
  /** GPUs of the largest agent. */
  maxGpus: number;
}

export function makeFleet(groups: readonly FleetGroup[]): TraceFleet {
  const agentGpus = groups.flatMap((g) => new Array<number>(g.agents).fill(g.gpusPerAgent));
  return {
    groups: groups.map((g) => ({ ...g })),
    agentGpus,
    totalGpus: agentGpus.reduce((a, b) => a + b, 0),
    maxGpus: Math.max(...agentGpus),
  };
}

/** `10x8` or `4x8+8x4+16x1`. */
export function describeFleet(fleet: TraceFleet): string {
  return fleet.groups.map((g) => `${g.agents}x${g.gpusPerAgent}`).join('+');
}

export interface TraceJob {
  /** Position in submit order (submitAt, then line): the simulator's job ids sort this way. */
  seq: number;
  /** The id the trace gave it. */
  traceId: string;
  submitAt: number;
  gpus: number;
  durationS: number;
  priority: PriorityClass;
  user: string;
  /** The job's task (its class with `user`, whose runtimes history learns); `train` when absent. */
  task: string;
  /**
   * The job's time limit in seconds (`--time-limits`), or absent: the simulator fails the run
   * if the job would run past it, and Baton's policy passes it to `place()`.
   */
  timeLimitS?: number;
}

export interface Trace {
  /** File name, for the report. */
  name: string;
  fleet: TraceFleet;
  mode: 'batch' | 'online';
  /** Lower bound on the makespan (batch traces), or null. */
  makespanLowerBoundS: number | null;
  /** In submit order. */
  jobs: TraceJob[];
}

export class TraceError extends Error {}

export async function readTrace(file: string): Promise<Trace> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TraceError(`cannot read trace ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseTrace(text, basename(file));
}

export function parseTrace(text: string, name: string): Trace {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const fail = (line: number, what: string) => new TraceError(`${name}:${line}: ${what}`);
  const json = (i: number): Record<string, unknown> => {
    let value: unknown;
    try {
      value = JSON.parse(lines[i]!);
    } catch {
      throw fail(i + 1, 'not a JSON line');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(i + 1, 'not a JSON object');
    return value as Record<string, unknown>;
  };
  if (lines.length === 0) throw new TraceError(`${name}: empty trace`);
  const header = json(0);
  const fleetField = header.fleet as Record<string, unknown> | undefined;
  const rawGroups = Array.isArray(fleetField?.groups) ? (fleetField.groups as unknown[]) : [fleetField];
  const groups: FleetGroup[] = [];
  for (const g of rawGroups) {
    const { agents, gpusPerAgent } = (g ?? {}) as Record<string, unknown>;
    if (!isPositiveInt(agents) || !isPositiveInt(gpusPerAgent)) {
      throw fail(
        1,
        'the header needs "fleet":{"agents":A,"gpusPerAgent":G} or "fleet":{"groups":[{"agents":A,"gpusPerAgent":G},…]} with positive integers',
      );
    }
    groups.push({ agents, gpusPerAgent });
  }
  if (groups.length === 0) throw fail(1, 'the header\'s "fleet":{"groups":[…]} is empty');
  const fleet = makeFleet(groups);
  const gpusPerAgent = fleet.maxGpus;
  const mode = header.mode;
  if (mode !== 'batch' && mode !== 'online') throw fail(1, 'the header needs "mode":"batch" or "online"');
  const bound = header.makespanLowerBoundS;
  const makespanLowerBoundS = typeof bound === 'number' && Number.isFinite(bound) && bound > 0 ? bound : null;

  const jobs: TraceJob[] = [];
  for (let i = 1; i < lines.length; i++) {
    const o = json(i);
    const { id, submitAt, gpus, durationS, priority, user, task } = o;
    if (typeof submitAt !== 'number' || !Number.isFinite(submitAt) || submitAt < 0)
      throw fail(i + 1, '"submitAt" must be a number of seconds ≥ 0');
    if (!isPositiveInt(gpus)) throw fail(i + 1, '"gpus" must be a positive integer');
    if (gpus > gpusPerAgent) throw fail(i + 1, `"gpus" is ${gpus}, more than an agent has (${gpusPerAgent})`);
    if (task !== undefined && (typeof task !== 'string' || task === ''))
      throw fail(i + 1, '"task" must be a non-empty string');
    if (typeof durationS !== 'number' || !Number.isFinite(durationS) || durationS <= 0)
      throw fail(i + 1, '"durationS" must be a positive number');
    const prio = priority ?? 'normal';
    if (!(PRIORITY_CLASSES as readonly unknown[]).includes(prio))
      throw fail(i + 1, `"priority" must be one of ${PRIORITY_CLASSES.join(', ')}`);
    jobs.push({
      seq: i - 1,
      traceId: typeof id === 'string' ? id : String(i - 1),
      submitAt,
      gpus,
      durationS,
      priority: prio as PriorityClass,
      user: typeof user === 'string' ? user : '',
      task: typeof task === 'string' ? task : 'train',
    });
  }
  jobs.sort((a, b) => a.submitAt - b.submitAt || a.seq - b.seq);
  jobs.forEach((job, seq) => (job.seq = seq));
  return { name, fleet, mode, makespanLowerBoundS, jobs };
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
}
