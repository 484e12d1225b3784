import { describe, expect, it } from 'vitest';
import { estimateRuntimeMs } from '@baton/core';
import {
  generateTrace,
  generateTraceLines,
  makespanLowerBound,
  parseFleet,
  parseMix,
} from '../src/packing/generate.js';
import { LearnedRuntimes, makePolicy } from '../src/packing/policies.js';
import type { JobRecord } from '../src/packing/simulator.js';
import { simulate } from '../src/packing/simulator.js';
import { judge } from '../src/packing/suite-goals.js';
import { runSuiteTrace, suiteTraces, SUITE_RUNS } from '../src/packing/suite.js';
import type { TraceJob } from '../src/packing/trace.js';
import { parseTrace } from '../src/packing/trace.js';

const lines = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n');

describe('the trace generator', () => {
  it('writes the shared traces line for line (the same random stream)', () => {
    // First and last lines of shared/traces/gpu-batch-2000.jsonl and gpu-online-3000.jsonl.
    const batch = generateTraceLines({ seed: 7, jobs: 2000, mode: 'batch', fleet: [{ agents: 10, gpusPerAgent: 8 }] });
    expect(batch.header).toMatchObject({ fleet: { agents: 10, gpusPerAgent: 8 }, gpuSeconds: 3740245 });
    expect(batch.header.makespanLowerBoundS).toBe(46753.0625);
    expect(batch.jobs[0]).toEqual({ id: 'j0', submitAt: 0, gpus: 1, durationS: 3389, priority: 'low', user: 'u5' });
    expect(batch.jobs[1]).toEqual({ id: 'j1', submitAt: 0, gpus: 1, durationS: 1538, priority: 'normal', user: 'u0' });
    const online = generateTraceLines({
      seed: 11,
      jobs: 3000,
      mode: 'online',
      fleet: [{ agents: 10, gpusPerAgent: 8 }],
    });
    expect(online.jobs[2999]).toEqual({
      id: 'j2999',
      submitAt: 77784.866,
      gpus: 1,
      durationS: 783,
      priority: 'normal',
      user: 'u6',
    });
  });

  it('with task classes: one GPU size per class, the mix kept, runtimes that history can predict', () => {
    const mix: [number, number][] = [
      [1, 50],
      [3, 20],
      [6, 30],
    ];
    const { jobs, header } = generateTraceLines({
      seed: 5,
      jobs: 6000,
      mode: 'online',
      load: 0.9,
      fleet: parseFleet('4x8+8x4+16x1'),
      mix,
      taskClasses: 12,
    });
    expect(header).toMatchObject({
      fleet: { groups: [{ agents: 4 }, { agents: 8 }, { agents: 16 }] },
      taskClasses: 12,
    });
    const byClass = new Map<string, { gpus: Set<number>; logs: number[] }>();
    for (const j of jobs) {
      const key = `${j.user} ${j.task}`;
      let c = byClass.get(key);
      if (!c) byClass.set(key, (c = { gpus: new Set(), logs: [] }));
      c.gpus.add(j.gpus);
      c.logs.push(Math.log(j.durationS));
    }
    expect(byClass.size).toBeGreaterThanOrEqual(10);
    for (const c of byClass.values()) expect(c.gpus.size).toBe(1);
    // The mix holds: each size within 3 points of its share.
    for (const [gpus, weight] of mix) {
      expect(Math.abs(jobs.filter((j) => j.gpus === gpus).length / jobs.length - weight / 100)).toBeLessThan(0.03);
    }
    // Spread within a class (σ 0.5) well below the whole trace's (about 1).
    const sd = (xs: number[]) => {
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
    };
    const within = [...byClass.values()].filter((c) => c.logs.length >= 100).map((c) => sd(c.logs));
    expect(within.length).toBeGreaterThan(3);
    for (const s of within) {
      expect(s).toBeGreaterThan(0.35);
      expect(s).toBeLessThan(0.65);
    }
    expect(sd(jobs.map((j) => Math.log(j.durationS)))).toBeGreaterThan(0.8);
    // The simulator reads it back, mixed fleet included.
    const trace = parseTrace(
      generateTrace({ seed: 5, jobs: 50, mode: 'batch', fleet: parseFleet('2x8+3x1'), mix }),
      't',
    );
    expect(trace.fleet.agentGpus).toEqual([8, 8, 1, 1, 1]);
    expect(trace.jobs.every((j) => j.task === 'train')).toBe(true);
  });

  it("bounds a mixed fleet's makespan by the jobs only its large agents can hold", () => {
    // Two 8-GPU jobs of 100 s fit only the one 8-GPU agent: at least 200 s, though all work / all GPUs is 100.
    const jobs = [
      { gpus: 8, durationS: 100 },
      { gpus: 8, durationS: 100 },
    ];
    expect(makespanLowerBound(jobs, [8, 1, 1, 1, 1, 1, 1, 1, 1])).toBe(200);
    expect(makespanLowerBound([{ gpus: 1, durationS: 500 }, ...jobs], [8, 8])).toBe(500);
  });

  it('refuses malformed fleets and mixes, and sizes no agent can hold', () => {
    expect(() => parseFleet('10y8')).toThrow(/AGENTSxGPUS/);
    expect(() => parseFleet('0x8')).toThrow(/1–100000 agents/);
    expect(() => parseMix('1:70,x')).toThrow(/GPUS:WEIGHT/);
    expect(() => generateTrace({ seed: 1, jobs: 1, mode: 'batch', fleet: parseFleet('2x4'), mix: [[8, 1]] })).toThrow(
      /8-GPU jobs, more than any agent has \(4\)/,
    );
  });
});

describe('the EASY baseline', () => {
  const trace = (jobs: object[], agents = 1, gpus = 8) =>
    parseTrace(lines([{ fleet: { agents, gpusPerAgent: gpus }, mode: 'online' }, ...jobs]), 'easy.jsonl');
  const starts = (t: ReturnType<typeof trace>) => {
    for (const job of t.jobs) job.timeLimitS = job.durationS * 2;
    return simulate(t, makePolicy('easy')).records.map((r) => [r.job.traceId, r.start]);
  };
  const job = (id: string, submitAt: number, gpus: number, durationS: number) => ({
    id,
    submitAt,
    gpus,
    durationS,
    priority: 'normal',
    user: 'u',
  });

  it('reserves for the first blocked job and backfills only what ends by its shadow time', () => {
    // a holds 4 GPUs until 200 at the latest; big's shadow is 200: short (ends by 82) runs, long waits.
    const t = trace([job('a', 0, 4, 100), job('big', 1, 8, 10), job('short', 2, 2, 40), job('long', 3, 2, 150)]);
    expect(starts(t)).toEqual([
      ['a', 0],
      ['big', 100],
      ['short', 2],
      ['long', 110],
    ]);
  });

  it('lets a long job take what the reserved job leaves over at its shadow time', () => {
    // a: 5 GPUs until 200 at the latest. six: 6 GPUs, shadow 200, 2 spare then: long2 takes them,
    // long1 (1 more GPU, free now) would leave six short at 200 and waits until six has run.
    const t = trace([job('a', 0, 5, 100), job('six', 1, 6, 10), job('long2', 2, 2, 500), job('long1', 3, 1, 500)]);
    expect(starts(t)).toEqual([
      ['a', 0],
      ['six', 100],
      ['long2', 2],
      ['long1', 110],
    ]);
  });
});

describe('learned runtimes in the simulation', () => {
  const tj = (seq: number, durationS: number, task = 'q'): TraceJob => ({
    seq,
    traceId: `j${seq}`,
    submitAt: 0,
    gpus: 2,
    durationS,
    priority: 'normal',
    user: 'u',
    task,
  });
  const record = (job: TraceJob, start: number): JobRecord => ({
    job,
    start,
    finish: start + job.durationS,
    agent: 0,
    gpus: [0, 1],
  });
  const view = (now: number, finished: JobRecord[], running: JobRecord[] = []) => ({
    agentGpus: [8],
    freeGpus: [[]],
    runningJobs: [running.length],
    running: [running],
    now,
    finished,
  });

  it('estimates a class from its finished jobs, and a job past its estimate releases at an unknown time', () => {
    const learned = new LearnedRuntimes();
    const pendingJob = () => ({ timeLimitMs: undefined as number | null | undefined });
    const first = [pendingJob()];
    learned.learn(view(0, []), first as never, [tj(9, 10)]);
    expect(first[0]!.timeLimitMs).toBeNull();
    const done = [tj(0, 10), tj(1, 12), tj(2, 30)].map((j) => record(j, 0));
    const next = [pendingJob(), pendingJob()];
    learned.learn(view(40, done), next as never, [tj(9, 10), tj(10, 10, 'other')]);
    expect(next[0]!.timeLimitMs).toBe(estimateRuntimeMs([30_000, 12_000, 10_000]));
    expect(next[1]!.timeLimitMs).toBeNull();
    // Started at 40 with its estimate: released by 40 s + the estimate while within it, unknown after.
    learned.started(tj(9, 10));
    const running = record(tj(9, 100), 40);
    expect(learned.releasesOf([running])).toEqual([{ atMs: 40_000 + next[0]!.timeLimitMs!, slots: 1, gpus: 2 }]);
    learned.learn(view(200, [], [running]), [], []);
    expect(learned.releasesOf([running])).toEqual([]);
  });

  it('never ends a job at its estimate: every job runs its whole duration', () => {
    const text = generateTrace({
      seed: 3,
      jobs: 300,
      mode: 'online',
      load: 0.95,
      fleet: parseFleet('4x4'),
      mix: [
        [1, 60],
        [2, 25],
        [4, 15],
      ],
      taskClasses: 6,
    });
    const result = simulate(parseTrace(text, 'learned.jsonl'), makePolicy('baton', {}, 'learned'));
    expect(result.records).toHaveLength(300);
    for (const r of result.records) expect(r.finish - r.start).toBeCloseTo(r.job.durationS, 6);
  });
});

describe('the suite', () => {
  it('has at least 12 traces over five fleet shapes, batch and online at two loads', () => {
    const traces = suiteTraces();
    expect(traces.length).toBeGreaterThanOrEqual(12);
    expect(new Set(traces.map((t) => JSON.stringify(t.spec.fleet))).size).toBe(5);
    expect(new Set(traces.map((t) => t.spec.load ?? 'batch'))).toEqual(new Set(['batch', 0.85, 0.97]));
    expect(new Set(traces.map((t) => t.spec.seed)).size).toBe(traces.length);
  });

  it('runs every policy and condition on a small trace and judges each goal', () => {
    const text = generateTrace({
      seed: 9,
      jobs: 400,
      mode: 'batch',
      fleet: parseFleet('3x4+2x2'),
      mix: [
        [1, 60],
        [3, 25],
        [4, 15],
      ],
      taskClasses: 8,
    });
    const runs = runSuiteTrace(text, 'small', true);
    expect(runs.map((l) => `${l.system}/${l.condition}`)).toEqual(SUITE_RUNS.map((r) => `${r.policy}/${r.condition}`));
    const verdict = judge(runs);
    expect(verdict.largest).toBe(4);
    expect(verdict.checks.map((c) => c.goal)).toContain('x2 makespan/LB');
    const byGoal = new Map(verdict.checks.map((c) => [c.goal, c]));
    const baton = runs[0]!;
    const ff = runs[2]!;
    expect(byGoal.get('p99L/ff')!.ratio).toBeCloseTo(baton.p99_wait_s_by_gpus['4']! / ff.p99_wait_s_by_gpus['4']!, 6);
    expect(byGoal.get('p99L/ff')!.met).toBe(baton.p99_wait_s_by_gpus['4']! <= 0.8 * ff.p99_wait_s_by_gpus['4']! + 1);
  });
});
