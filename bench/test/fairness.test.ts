import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { covers, fairness, jainIndex, waitingIntervals } from '../src/packing/fairness.js';
import { makePolicy, UsageLedger } from '../src/packing/policies.js';
import { runPacking } from '../src/packing/run.js';
import type { JobRecord } from '../src/packing/simulator.js';
import { simulate } from '../src/packing/simulator.js';
import { parseTrace } from '../src/packing/trace.js';

const traceText = (fleet: { agents: number; gpusPerAgent: number }, jobs: object[]) =>
  [{ fleet, mode: 'online', makespanLowerBoundS: null }, ...jobs].map((l) => JSON.stringify(l)).join('\n') + '\n';

/** xorshift32, as the shared trace generator. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * Two users on 2 agents × 4 GPUs: u0 submits a large backlog at t=0; u1 arrives later (between
 * 300 and 2 400 s) with fewer jobs, all at once or spread out. Sizes 1/2/4 GPUs, durations
 * 60–900 s, all priority normal; the counts, sizes, durations and u1's arrival vary by seed.
 */
function twoUserTrace(seed: number): string {
  const rand = rng(seed);
  const gpus = () => {
    const r = rand();
    return r < 0.6 ? 1 : r < 0.85 ? 2 : 4;
  };
  const duration = () => 60 + Math.floor(rand() * 840);
  const jobs: object[] = [];
  const n0 = 60 + Math.floor(rand() * 41);
  for (let i = 0; i < n0; i++) jobs.push({ submitAt: 0, gpus: gpus(), durationS: duration(), user: 'u0' });
  const n1 = 20 + Math.floor(rand() * 21);
  let t = 300 + Math.floor(rand() * 2100);
  const spread = rand() < 0.5 ? 0 : 60;
  for (let i = 0; i < n1; i++) {
    jobs.push({ submitAt: t, gpus: gpus(), durationS: duration(), user: 'u1' });
    t += Math.floor(rand() * spread);
  }
  jobs.forEach((j, i) => Object.assign(j, { id: `j${i}`, priority: 'normal' }));
  return traceText({ agents: 2, gpusPerAgent: 4 }, jobs);
}

describe("Jain's fairness index", () => {
  it('is 1 when all get the same, 1/n when one user gets everything', () => {
    expect(jainIndex([5, 5, 5, 5])).toBe(1);
    expect(jainIndex([3.5, 3.5])).toBe(1);
    expect(jainIndex([10, 0, 0, 0])).toBe(0.25);
    expect(jainIndex([0, 7, 0])).toBeCloseTo(1 / 3, 12);
    // (1 + 3)² / (2 · (1 + 9)) = 0.8
    expect(jainIndex([1, 3])).toBeCloseTo(0.8, 12);
    // Nothing to share: all equal.
    expect(jainIndex([0, 0])).toBe(1);
    expect(jainIndex([])).toBe(1);
  });
});

describe('backlogged windows', () => {
  // 1 agent × 2 GPUs, strict FIFO, windows of 100 s:
  //   j0 a t=0 runs [0, 300)      j1 b t=0 runs [0, 100)
  //   j2 a t=0 waits, runs [100, 200)      j3 b t=0 waits, runs [200, 350)
  //   j4 a t=50 waits, runs [300, 350)
  // a waits over [0, 100) ∪ [50, 300) = [0, 300); b over [0, 200). The run spans [0, 350):
  // 3 whole windows; [0,100) and [100,200) count, [200,300) does not (b's last job started at 200).
  const trace = parseTrace(
    traceText({ agents: 1, gpusPerAgent: 2 }, [
      { id: 'j0', submitAt: 0, gpus: 1, durationS: 300, user: 'a' },
      { id: 'j1', submitAt: 0, gpus: 1, durationS: 100, user: 'b' },
      { id: 'j2', submitAt: 0, gpus: 1, durationS: 100, user: 'a' },
      { id: 'j3', submitAt: 0, gpus: 1, durationS: 150, user: 'b' },
      { id: 'j4', submitAt: 50, gpus: 1, durationS: 50, user: 'a' },
    ]),
    'hand.jsonl',
  );
  const { records } = simulate(trace, makePolicy('fifo'));

  it('runs the hand-made trace as described', () => {
    expect(records.map((r) => [r.job.traceId, r.start, r.finish])).toEqual([
      ['j0', 0, 300],
      ['j1', 0, 100],
      ['j2', 100, 200],
      ['j3', 200, 350],
      ['j4', 300, 350],
    ]);
    const waiting = waitingIntervals(records);
    expect(waiting.get('a')).toEqual([[0, 300]]);
    expect(waiting.get('b')).toEqual([[0, 200]]);
  });

  it('counts a window only when every user has a job waiting throughout it', () => {
    const f = fairness(records, { windowS: 100 });
    expect(f.users).toEqual(['a', 'b']);
    expect(f.windows).toBe(3);
    expect(f.counted.map((w) => [w.start, w.end])).toEqual([
      [0, 100],
      [100, 200],
    ]);
    // [0,100): a 100 GPU-s (j0), b 100 (j1): J = 1. [100,200): a 200 (j0, j2), b 0: J = 1/2.
    expect(f.counted.map((w) => w.shares)).toEqual([
      [100, 100],
      [200, 0],
    ]);
    expect(f.jainMean).toBeCloseTo(0.75, 12);
    expect(f.jainMin).toBeCloseTo(0.5, 12);
  });

  it('divides GPU-seconds by weight', () => {
    const f = fairness(records, { windowS: 100, weights: new Map([['a', 2]]) });
    expect(f.counted.map((w) => w.shares)).toEqual([
      [50, 100],
      [100, 0],
    ]);
    // (50 + 100)² / (2 · (50² + 100²)) = 0.9
    expect(f.counted[0]!.jain).toBeCloseTo(0.9, 12);
  });

  it('needs the whole window covered: a gap, or a user who never waits, leaves it out', () => {
    expect(covers([[0, 300]], 200, 300)).toBe(true);
    expect(covers([[0, 300]], 250, 350)).toBe(false);
    expect(
      covers(
        [
          [0, 90],
          [110, 300],
        ],
        0,
        100,
      ),
    ).toBe(false);
    expect(covers([], 0, 100)).toBe(false);
    // Windows of 150 s: [0,150) counts; [150,300) does not (b stops waiting at 200).
    expect(fairness(records, { windowS: 150 }).counted.map((w) => w.start)).toEqual([0]);
    // A third user whose job starts as soon as it is submitted is never backlogged: no window counts.
    const extra: JobRecord = { ...records[1]!, job: { ...records[1]!.job, seq: 5, user: 'c' } };
    const f = fairness([...records, extra], { windowS: 100 });
    expect(f.users).toHaveLength(3);
    expect(f.counted).toHaveLength(0);
    expect(f.jainMean).toBeNull();
    expect(f.jainMin).toBeNull();
  });
});

describe('usage ledger of baton-fair', () => {
  const job = (user: string, gpus: number, start: number, finish: number): JobRecord => ({
    job: {
      seq: 0,
      traceId: 'x',
      submitAt: 0,
      gpus,
      durationS: finish - start,
      priority: 'normal',
      user,
      task: 'train',
    },
    start,
    finish,
    agent: 0,
    gpus: [],
  });

  it('charges units × seconds, decayed with the half-life, continuously', () => {
    const h = 1000;
    const ledger = new UsageLedger(h);
    ledger.charge({ now: 0, running: [], finished: [] });
    // 2 GPUs held over [0, h]: 2 · ∫₀ʰ 2^(-(h - t)/h) dt = 2 · (h / ln 2) · (1 − 1/2) = h / ln 2.
    ledger.charge({ now: h, running: [[job('a', 2, 0, 5 * h)]], finished: [] });
    expect(ledger.usage.get('a')).toBeCloseTo(h / Math.LN2, 6);
    // Nothing held for a further half-life: halved.
    ledger.charge({ now: 2 * h, running: [], finished: [] });
    expect(ledger.usage.get('a')).toBeCloseTo(h / Math.LN2 / 2, 6);
  });

  it('gives the same usage however often it is charged, finished jobs up to their end', () => {
    const h = 700;
    const a = job('a', 4, 0, 1300);
    const b = job('b', 1, 200, 2500);
    const once = new UsageLedger(h);
    once.charge({ now: 0, running: [], finished: [] });
    once.charge({ now: 3000, running: [], finished: [a, b] });
    const often = new UsageLedger(h);
    often.charge({ now: 0, running: [], finished: [] });
    let prev = 0;
    for (const now of [100, 200, 900, 1300, 1800, 2500, 3000]) {
      const running = [[a, b].filter((r) => r.start <= now && r.finish > now)];
      const finished = [a, b].filter((r) => r.finish > prev && r.finish <= now);
      often.charge({ now, running, finished });
      prev = now;
    }
    for (const user of ['a', 'b']) expect(often.usage.get(user)).toBeCloseTo(once.usage.get(user)!, 6);
  });
});

describe('baton-fair', () => {
  it('on two-user traces (a large backlog first, the other user later) is fairer than baton: higher mean Jain index', () => {
    const seeds = Array.from({ length: 12 }, (_, i) => i + 1);
    const rows = seeds.map((seed) => {
      const trace = parseTrace(twoUserTrace(seed), `two-users-${seed}.jsonl`);
      const plain = fairness(simulate(trace, makePolicy('baton')).records, { windowS: 600 });
      const fair = fairness(simulate(trace, makePolicy('baton-fair')).records, { windowS: 600 });
      return { seed, plain: plain.jainMean, fair: fair.jainMean, windows: [plain.counted.length, fair.counted.length] };
    });
    // Both runs have windows in which both users were backlogged.
    for (const r of rows)
      expect(
        r.windows.every((n) => n > 0),
        `seed ${r.seed}: ${JSON.stringify(r)}`,
      ).toBe(true);
    const notFairer = rows.filter((r) => !(r.fair! > r.plain!));
    expect(notFairer, JSON.stringify(rows)).toEqual([]);
  });

  it('keeps every job once and no GPU double-booked, with priorities and weights', () => {
    const trace = parseTrace(twoUserTrace(5), 'two.jsonl');
    ['high', 'low'].forEach((priority, i) => (trace.jobs[i * 7]!.priority = priority as 'high' | 'low'));
    const result = simulate(
      trace,
      makePolicy('baton-fair', {}, false, { halfLifeS: 600, weights: new Map([['u1', 3]]) }),
    );
    expect(result.records).toHaveLength(trace.jobs.length);
    expect(result.records.every((r, seq) => r !== undefined && r.job.seq === seq && r.start >= r.job.submitAt)).toBe(
      true,
    );
  });

  it('with one user places exactly as baton', () => {
    const text = twoUserTrace(3).replaceAll('"u1"', '"u0"');
    const starts = (name: 'baton' | 'baton-fair') =>
      simulate(parseTrace(text, 'one.jsonl'), makePolicy(name)).records.map((r) => [r.start, r.agent, r.gpus]);
    expect(starts('baton-fair')).toEqual(starts('baton'));
  });
});

describe('the packing report', () => {
  it('carries the fairness fields on every line and the utilization cost on baton-fair', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-fairness-'));
    try {
      const file = join(dir, 'two.jsonl');
      await writeFile(file, twoUserTrace(2));
      const logged: string[] = [];
      const lines = await runPacking({
        trace: file,
        policies: ['baton', 'baton-fair', 'first-fit', 'fifo'],
        halfLifeS: 1800,
        weights: new Map([['u0', 2]]),
        fairWindowS: 300,
        log: (l) => logged.push(l),
      });
      for (const line of lines) {
        expect(line).toMatchObject({ users: 2, fair_window_s: 300 });
        expect(line.fair_windows).toBeGreaterThan(0);
        expect(line.fair_windows).toBeLessThanOrEqual(line.fair_windows_total);
        expect(line.jain_mean!).toBeGreaterThanOrEqual(0.5);
        expect(line.jain_mean!).toBeLessThanOrEqual(1);
        expect(line.jain_min!).toBeLessThanOrEqual(line.jain_mean!);
      }
      const [baton, fair] = lines;
      expect('fair_share_util_cost' in baton!).toBe(false);
      expect(fair).toMatchObject({ system: 'baton-fair', half_life_s: 1800, weights: { u0: 2 } });
      const cost = (baton!.utilization! - fair!.utilization!) / baton!.utilization!;
      expect(fair!.fair_share_util_cost).toBeCloseTo(cost, 2);
      const text = logged.join('\n');
      expect(text).toMatch(/jain_mean\s+jain_min\s+windows/);
      expect(text).toMatch(/utilization cost of fair share: -?\d+\.\d\d %/);
      expect(text).toMatch(/baton-fair\s+Jain mean/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
