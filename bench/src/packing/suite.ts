import type { PlacementOptions } from '@baton/core';
import type { TraceSpec } from './generate.js';
import { generateTrace } from './generate.js';
import type { Estimates, PolicyName } from './policies.js';
import { makePolicy } from './policies.js';
import type { PackingLine } from './report.js';
import { summarize } from './report.js';
import { simulate } from './simulator.js';
import type { Trace } from './trace.js';
import { parseTrace } from './trace.js';

/**
 * The packing suite: fleets of several shapes, batch and online at two loads, job sizes that do
 * not divide the agents, task classes, each trace run with priorities ignored and honoured,
 * under three conditions: no runtime knowledge, time limits at twice the real runtime, and
 * learned estimates (no limits given). Rules are judged on all of it, not on one trace.
 */

const MIX_8: TraceSpec['mix'] = [
  [1, 50],
  [2, 15],
  [3, 8],
  [4, 10],
  [6, 7],
  [8, 10],
];
const MIX_4: TraceSpec['mix'] = [
  [1, 55],
  [2, 20],
  [3, 10],
  [4, 15],
];
const MIX_2: TraceSpec['mix'] = [
  [1, 70],
  [2, 30],
];

interface SuiteFleet {
  label: string;
  fleet: TraceSpec['fleet'];
  mix: TraceSpec['mix'];
  jobs: number;
}

const FLEETS: SuiteFleet[] = [
  { label: '10x8', fleet: [{ agents: 10, gpusPerAgent: 8 }], mix: MIX_8, jobs: 2000 },
  { label: '16x4', fleet: [{ agents: 16, gpusPerAgent: 4 }], mix: MIX_4, jobs: 1600 },
  { label: '32x8', fleet: [{ agents: 32, gpusPerAgent: 8 }], mix: MIX_8, jobs: 4000 },
  { label: '64x2', fleet: [{ agents: 64, gpusPerAgent: 2 }], mix: MIX_2, jobs: 3000 },
  {
    label: '4x8+8x4+16x1',
    fleet: [
      { agents: 4, gpusPerAgent: 8 },
      { agents: 8, gpusPerAgent: 4 },
      { agents: 16, gpusPerAgent: 1 },
    ],
    mix: MIX_8,
    jobs: 2000,
  },
];

const MODES = [
  { label: 'batch', mode: 'batch' as const },
  { label: 'online-0.85', mode: 'online' as const, load: 0.85 },
  { label: 'online-0.97', mode: 'online' as const, load: 0.97 },
];

export const SUITE_TASK_CLASSES = 24;
export const SUITE_USERS = 8;

export interface SuiteTrace {
  name: string;
  spec: TraceSpec;
}

/** The suite's traces (15: five fleets × batch and two online loads), seeds 1201…. */
export function suiteTraces(): SuiteTrace[] {
  const traces: SuiteTrace[] = [];
  let seed = 1201;
  for (const f of FLEETS) {
    for (const m of MODES) {
      traces.push({
        name: `${f.label}-${m.label}`,
        spec: {
          seed: seed++,
          jobs: f.jobs,
          mode: m.mode,
          ...(m.load !== undefined && { load: m.load }),
          fleet: f.fleet,
          mix: f.mix,
          users: SUITE_USERS,
          taskClasses: SUITE_TASK_CLASSES,
        },
      });
    }
  }
  return traces;
}

/** One run of the suite: a policy on a trace under a condition. */
export type Condition = 'none' | 'x2' | 'learned';

export interface SuiteRun {
  policy: PolicyName;
  condition: Condition;
}

/** Runs per trace and priority setting: the baselines where a condition changes them. */
export const SUITE_RUNS: readonly SuiteRun[] = [
  { policy: 'baton', condition: 'none' },
  { policy: 'best-fit', condition: 'none' },
  { policy: 'first-fit', condition: 'none' },
  { policy: 'fifo', condition: 'none' },
  { policy: 'baton', condition: 'x2' },
  { policy: 'easy', condition: 'x2' },
  { policy: 'baton', condition: 'learned' },
];

export interface SuiteLine extends PackingLine {
  condition: Condition;
}

/** The trace as the simulator reads it, with priorities and limits set for one run. */
export function traceFor(text: string, name: string, ignorePriority: boolean, condition: Condition): Trace {
  const trace = parseTrace(text, name);
  for (const job of trace.jobs) {
    if (ignorePriority) job.priority = 'normal';
    if (condition === 'x2') job.timeLimitS = job.durationS * 2;
  }
  return trace;
}

const ESTIMATES: Record<Condition, Estimates> = { none: 'none', x2: 'limits', learned: 'learned' };

/** Every run of one trace under one priority setting. */
export function runSuiteTrace(
  text: string,
  name: string,
  ignorePriority: boolean,
  placement: PlacementOptions = {},
  runs: readonly SuiteRun[] = SUITE_RUNS,
): SuiteLine[] {
  const lines: SuiteLine[] = [];
  for (const run of runs) {
    const trace = traceFor(text, name, ignorePriority, run.condition);
    const policy = makePolicy(run.policy, placement, ESTIMATES[run.condition]);
    const result = simulate(trace, policy);
    const line: SuiteLine = {
      ...summarize(result, policy.placements),
      condition: run.condition,
      time_limits: run.condition === 'x2' ? 'x2' : run.condition === 'learned' ? 'learned' : 'none',
    };
    if (ignorePriority) line.priorities = 'ignored';
    lines.push(line);
  }
  return lines;
}

/** Generates every trace of the suite (JSONL text by name). */
export function suiteTexts(only?: ReadonlySet<string>): { name: string; text: string }[] {
  return suiteTraces()
    .filter((t) => !only || only.has(t.name))
    .map((t) => ({ name: t.name, text: generateTrace(t.spec) }));
}
