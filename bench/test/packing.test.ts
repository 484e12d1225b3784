import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { priorityRank } from '@baton/core';
import type { PolicyName } from '../src/packing/policies.js';
import { makePolicy, POLICY_NAMES } from '../src/packing/policies.js';
import { summarize } from '../src/packing/report.js';
import { runPacking } from '../src/packing/run.js';
import type { Policy, SimResult } from '../src/packing/simulator.js';
import { simulate, SimulationError } from '../src/packing/simulator.js';
import type { Trace } from '../src/packing/trace.js';
import { parseTrace, TraceError } from '../src/packing/trace.js';

/** A small deterministic trace in the shared format: 4 agents × 4 GPUs, jobs of 1, 2 and 4 GPUs. */
function makeTrace(mode: 'batch' | 'online', jobs = 160, seed = 3): string {
  let s = seed;
  const rand = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const lines: object[] = [];
  let t = 0;
  let work = 0;
  for (let i = 0; i < jobs; i++) {
    const r = rand();
    const gpus = r < 0.6 ? 1 : r < 0.8 ? 2 : 4;
    const durationS = 5 + Math.floor(rand() * 300);
    if (mode === 'online') t += Math.round(rand() * 40 * 1000) / 1000;
    work += gpus * durationS;
    const priority = (['high', 'normal', 'normal', 'low'] as const)[Math.floor(rand() * 4)];
    lines.push({ id: `j${i}`, submitAt: t, gpus, durationS, priority, user: `u${i % 3}` });
  }
  const header = {
    fleet: { agents: 4, gpusPerAgent: 4 },
    mode,
    makespanLowerBoundS: mode === 'batch' ? work / 16 : null,
  };
  return [header, ...lines].map((l) => JSON.stringify(l)).join('\n') + '\n';
}

/** Checks what every policy must respect, whatever its quality. */
function checkInvariants(trace: Trace, result: SimResult): void {
  const { agentGpus } = trace.fleet;
  const agents = agentGpus.length;
  expect(result.records).toHaveLength(trace.jobs.length);
  const seen = new Set<number>();
  for (const [seq, r] of result.records.entries()) {
    expect(r, `job ${seq} never ran`).toBeDefined();
    expect(r.job.seq).toBe(seq);
    expect(seen.has(r.job.seq)).toBe(false);
    seen.add(r.job.seq);
    expect(r.start).toBeGreaterThanOrEqual(r.job.submitAt);
    expect(r.finish).toBe(r.start + r.job.durationS);
    expect(r.agent).toBeGreaterThanOrEqual(0);
    expect(r.agent).toBeLessThan(agents);
    expect(r.gpus).toHaveLength(r.job.gpus);
    for (const g of r.gpus) expect(g >= 0 && g < agentGpus[r.agent]!).toBe(true);
  }
  // Sweep each agent's starts and finishes: never more GPUs than it has, never one device twice.
  for (let a = 0; a < agents; a++) {
    const events = result.records
      .filter((r) => r.agent === a)
      .flatMap((r) => [
        { t: r.start, d: +1, r },
        { t: r.finish, d: -1, r },
      ])
      .sort((x, y) => x.t - y.t || x.d - y.d);
    const busy = new Set<number>();
    for (const e of events) {
      for (const g of e.r.gpus) {
        if (e.d > 0) {
          expect(busy.has(g), `agent ${a} GPU ${g} double-booked at t=${e.t}`).toBe(false);
          busy.add(g);
        } else {
          busy.delete(g);
        }
      }
      expect(busy.size).toBeLessThanOrEqual(agentGpus[a]!);
    }
  }
}

function checkLine(trace: Trace, result: SimResult, system: string, placements?: number): void {
  const line = summarize(result, placements);
  expect(line).toMatchObject({
    system,
    backend: 'sim',
    workload: 'packing',
    trace: trace.name,
    jobs: trace.jobs.length,
  });
  expect(line.utilization).toBeGreaterThan(0);
  expect(line.utilization).toBeLessThanOrEqual(1);
  expect(line.makespan_s).toBeGreaterThan(0);
  expect(line.mean_wait_s).toBeGreaterThanOrEqual(0);
  expect(line.p99_wait_s).toBeGreaterThanOrEqual(0);
  expect(Object.keys(line.p99_wait_s_by_gpus)).toEqual(['1', '2', '4']);
  for (const v of Object.values(line.p99_wait_s_by_gpus)) expect(v).toBeGreaterThanOrEqual(0);
  if (trace.mode === 'batch') expect(line.makespan_ratio).toBeGreaterThanOrEqual(1);
  else expect('makespan_ratio' in line).toBe(false);
  if (placements !== undefined) expect(line.placements_per_s).toBeGreaterThan(0);
  else expect('placements_per_s' in line).toBe(false);
  expect(JSON.parse(JSON.stringify(line))).toEqual(line);
}

describe('packing simulator', () => {
  for (const mode of ['batch', 'online'] as const) {
    const trace = parseTrace(makeTrace(mode), `small-${mode}.jsonl`);

    for (const name of POLICY_NAMES) {
      it(`${name} on a ${mode} trace: every job runs once, no GPU is double-booked, the line is well-formed`, () => {
        const policy = makePolicy(name);
        const result = simulate(trace, policy);
        checkInvariants(trace, result);
        checkLine(trace, result, name, policy.placements);
      });
    }

    it(`fifo on a ${mode} trace never starts a job before an earlier-ordered one that was waiting`, () => {
      const { records } = simulate(trace, makePolicy('fifo'));
      const ordered = [...records].sort(
        (a, b) => priorityRank(a.job.priority) - priorityRank(b.job.priority) || a.job.seq - b.job.seq,
      );
      for (let i = 0; i < ordered.length; i++) {
        for (let k = i + 1; k < ordered.length; k++) {
          const earlier = ordered[i]!;
          const later = ordered[k]!;
          if (earlier.job.submitAt <= later.start) expect(earlier.start).toBeLessThanOrEqual(later.start);
        }
      }
    });
  }

  it('baton never lets a job wait while a whole idle agent could run it', () => {
    // Weaker than optimal, but it would catch a policy that holds GPUs for nobody.
    const trace = parseTrace(makeTrace('online', 200, 9), 'idle.jsonl');
    const { records } = simulate(trace, makePolicy('baton'));
    const instants = [...new Set(records.map((r) => r.job.submitAt))];
    let contended = 0;
    for (const t of instants) {
      const busy = new Array<number>(trace.fleet.agentGpus.length).fill(0);
      for (const r of records) if (r.start <= t && t < r.finish) busy[r.agent]! += r.job.gpus;
      const waiting = records.filter((r) => r.job.submitAt <= t && t < r.start);
      if (waiting.length > 0) contended++;
      if (waiting.length > 0) expect(busy.includes(0), `an agent idle at t=${t} while jobs wait`).toBe(false);
    }
    expect(contended).toBeGreaterThan(20);
  });

  it('rejects a policy that hands out a busy GPU', () => {
    const trace = parseTrace(makeTrace('batch', 10), 'bad.jsonl');
    const greedy: Policy = {
      name: 'broken',
      decide: (pending) =>
        pending.map((job) => ({ job, agent: 0, gpus: Array.from({ length: job.gpus }, (_, i) => i) })),
    };
    expect(() => simulate(trace, greedy)).toThrow(SimulationError);
  });

  it('orders baton and first-fit by priority, then submit order', () => {
    const text = [
      { fleet: { agents: 1, gpusPerAgent: 2 }, mode: 'online', makespanLowerBoundS: null },
      { id: 'a', submitAt: 0, gpus: 2, durationS: 100, priority: 'normal', user: 'u' },
      { id: 'b', submitAt: 1, gpus: 1, durationS: 10, priority: 'low', user: 'u' },
      { id: 'c', submitAt: 2, gpus: 1, durationS: 10, priority: 'normal', user: 'u' },
      { id: 'd', submitAt: 3, gpus: 1, durationS: 10, priority: 'high', user: 'u' },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n');
    const trace = parseTrace(text, 'order.jsonl');
    for (const name of ['baton', 'first-fit', 'fifo'] as PolicyName[]) {
      const { records } = simulate(trace, makePolicy(name));
      // At t=100 the two GPUs free up: high d and normal c start, low b waits.
      expect(
        records.map((r) => [r.job.traceId, r.start]),
        name,
      ).toEqual([
        ['a', 0],
        ['b', 110],
        ['c', 100],
        ['d', 100],
      ]);
    }
  });
});

describe('packing traces and the workload', () => {
  it('refuses a malformed trace with the line at fault', () => {
    expect(() => parseTrace('', 'e.jsonl')).toThrow(TraceError);
    expect(() => parseTrace('{"mode":"batch"}', 'h.jsonl')).toThrow(/h\.jsonl:1: the header needs "fleet"/);
    const header = JSON.stringify({ fleet: { agents: 2, gpusPerAgent: 4 }, mode: 'batch' });
    expect(() => parseTrace(`${header}\n{"submitAt":0,"gpus":8,"durationS":5}`, 'g.jsonl')).toThrow(
      /g\.jsonl:2: "gpus" is 8, more than an agent has \(4\)/,
    );
    expect(() => parseTrace(`${header}\nnot json`, 'j.jsonl')).toThrow(/j\.jsonl:2: not a JSON line/);
  });

  it('prints one line per policy for a trace file, and marks runs that ignore priorities', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-packing-'));
    try {
      const file = join(dir, 'tiny.jsonl');
      await writeFile(file, makeTrace('batch', 40));
      const logged: string[] = [];
      const lines = await runPacking({ trace: file, policies: POLICY_NAMES, log: (l) => logged.push(l) });
      expect(lines.map((l) => l.system)).toEqual([...POLICY_NAMES]);
      expect(lines.every((l) => l.trace === 'tiny.jsonl' && l.jobs === 40)).toBe(true);
      expect(logged.join('\n')).toMatch(/policy\s+util\s+makespan_s/);
      const ignored = await runPacking({ trace: file, policies: ['first-fit'], ignorePriority: true });
      expect(ignored[0]?.priorities).toBe('ignored');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('with time limits: Baton backfills a held agent with a job that ends in time, and limits are enforced', () => {
    const text = [
      { fleet: { agents: 1, gpusPerAgent: 8 }, mode: 'online', makespanLowerBoundS: null },
      { id: 'a', submitAt: 0, gpus: 4, durationS: 100, priority: 'normal', user: 'u' },
      { id: 'big', submitAt: 1, gpus: 8, durationS: 10, priority: 'normal', user: 'u' },
      { id: 'short', submitAt: 2, gpus: 2, durationS: 40, priority: 'normal', user: 'u' },
      { id: 'long', submitAt: 3, gpus: 2, durationS: 150, priority: 'normal', user: 'u' },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n');
    const starts = (limits: boolean) => {
      const trace = parseTrace(text, 'easy.jsonl');
      if (limits) for (const job of trace.jobs) job.timeLimitS = job.durationS * 2;
      return simulate(trace, makePolicy('baton', {}, limits)).records.map((r) => [r.job.traceId, r.start]);
    };
    // Without limits the held agent idles 4 GPUs until a ends; with x2 limits big's shadow time
    // is 200 (a's limit), so short (ends by 2 + 80) runs meanwhile, long (3 + 300) does not.
    expect(starts(false)).toEqual([
      ['a', 0],
      ['big', 100],
      ['short', 110],
      ['long', 110],
    ]);
    expect(starts(true)).toEqual([
      ['a', 0],
      ['big', 100],
      ['short', 2],
      ['long', 110],
    ]);
    const tight = parseTrace(text, 'tight.jsonl');
    for (const job of tight.jobs) job.timeLimitS = job.durationS / 2;
    expect(() => simulate(tight, makePolicy('first-fit'))).toThrow(/past its time limit/);
  });

  it('names the time limits in every line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-packing-'));
    try {
      const file = join(dir, 'tiny.jsonl');
      await writeFile(file, makeTrace('online', 60));
      for (const timeLimits of ['none', 'exact', 'x2'] as const) {
        const lines = await runPacking({ trace: file, policies: POLICY_NAMES, timeLimits });
        expect(lines.map((l) => l.time_limits)).toEqual(POLICY_NAMES.map(() => timeLimits));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
