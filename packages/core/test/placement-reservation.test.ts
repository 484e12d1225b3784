import { describe, expect, it } from 'vitest';
import type { PendingJob, ReservationPolicy } from '@baton/core';
import { place } from '@baton/core';
import { codeOf, gpuAgent, gpuJob, job, on, random } from './placement-fixtures.js';

describe('place: head-of-line reservation', () => {
  it('holds the agent closest to fitting a blocked large job; later jobs take no GPUs there', () => {
    // busy: 6 one-GPU jobs; half: 4 GPUs held by one job, 4 free; one: 7 held by one job.
    const agents = [gpuAgent('busy', 2), gpuAgent('half', 4, { freeSlots: 7 }), gpuAgent('one', 1, { freeSlots: 7 })];
    const result = place(
      [gpuJob('big', 8), gpuJob('s1', 1), gpuJob('s2', 1), gpuJob('s3', 2), gpuJob('s4', 4)],
      agents,
    );
    expect(result.pending.get('big')).toEqual({
      code: 'WAITING_FOR_CAPACITY',
      message: 'waiting for 8 free GPUs on an agent of queue "default"; agent half is held for it (4 GPUs free now)',
    });
    expect(on(result, 's1')?.agentId).toBe('one');
    expect(on(result, 's2')?.agentId).toBe('busy');
    expect(on(result, 's3')).toBeUndefined();
    expect(result.pending.get('s3')).toEqual({
      code: 'RESERVED_FOR_LARGER_JOB',
      message: 'agent half is held for job big, which needs 8 GPUs',
    });
    expect(codeOf(result, 's4')).toBe('RESERVED_FOR_LARGER_JOB');
    expect(result.placements.every((p) => p.agentId !== 'half')).toBe(true);
  });

  it('lets CPU-only jobs use a held agent only while it keeps room for the held job', () => {
    const agents = [
      gpuAgent('g', 4, { freeSlots: 7, freeCpu: 10, total: { slots: 12, cpu: 16 } }),
      gpuAgent('busy', 0, { freeSlots: 4, total: { slots: 12 } }),
    ];
    const result = place(
      [
        gpuJob('big', 8, { resources: { cpu: 8 } }),
        job('c1', { resources: { cpu: 2 } }),
        job('c2', { resources: { cpu: 1 } }),
      ],
      agents,
    );
    expect(result.pending.get('big')?.message).toMatch(/agent g is held for it/);
    expect(on(result, 'c1')?.agentId).toBe('busy');
    expect(on(result, 'c2')?.agentId).toBe('busy');
    // Alone, g takes CPU-only work while 8 of its CPUs and a slot stay free for the held job.
    const alone = place(
      [
        gpuJob('big', 8, { resources: { cpu: 8 } }),
        job('c1', { resources: { cpu: 2 } }),
        job('c2', { resources: { cpu: 1 } }),
      ],
      [agents[0]!],
    );
    expect(on(alone, 'c1')?.agentId).toBe('g');
    expect(alone.pending.get('c2')).toEqual({
      code: 'RESERVED_FOR_LARGER_JOB',
      message: 'agent g is held for job big, which needs 8 GPUs, 8 CPUs',
    });
  });

  it('makes no reservation when the policy is none, and one per larger size by default', () => {
    const agents = [gpuAgent('a', 3), gpuAgent('b', 2)];
    const none = place([gpuJob('big', 8), gpuJob('s', 1)], agents, { reservations: 'none' });
    expect(on(none, 's')?.agentId).toBe('b');
    expect(codeOf(none, 'big')).toBe('WAITING_FOR_CAPACITY');
    // Blocked 4 then 8: both hold an agent, so the 1-GPU job behind them finds nothing.
    const jobs = [gpuJob('1-four', 4), gpuJob('2-eight', 8), gpuJob('3-small', 1)];
    const larger = place(jobs, agents);
    expect(larger.pending.get('1-four')?.message).toMatch(/agent a is held for it/);
    expect(larger.pending.get('2-eight')?.message).toMatch(/agent b is held for it/);
    expect(codeOf(larger, '3-small')).toBe('RESERVED_FOR_LARGER_JOB');
    const head = place(jobs, agents, { reservations: 'head' });
    expect(head.pending.get('2-eight')?.message).not.toMatch(/is held for it/);
    expect(on(head, '3-small')?.agentId).toBe('b');
    // Behind a blocked 8-GPU job, a 4-GPU job gets no agent of its own.
    const afterBig = place([gpuJob('1-eight', 8), gpuJob('2-four', 4), gpuJob('3-small', 1)], agents);
    expect(afterBig.pending.get('2-four')?.message).not.toMatch(/is held for it/);
    expect(on(afterBig, '3-small')?.agentId).toBe('b');
  });

  for (const policy of ['larger', 'head', 'per-size'] as const) {
    it(`places an 8-GPU job among a steady stream of 1-GPU jobs (${policy})`, () => {
      expect(simulateStream(policy, 400).bigStartedAt).toBeLessThan(400);
    });
  }

  it('without reservations the same stream starves the 8-GPU job', () => {
    expect(simulateStream('none', 400).bigStartedAt).toBe(Infinity);
  });
});

/**
 * Two 8-GPU agents saturated by 1-GPU jobs (four arrive per tick, each runs 4–7 ticks); an
 * 8-GPU job arrives at tick 5. One placement pass per tick, over every pending job.
 */
function simulateStream(policy: ReservationPolicy, ticks: number): { bigStartedAt: number } {
  const rand = random(7);
  const free = new Map<string, number[]>([
    ['a', [0, 1, 2, 3, 4, 5, 6, 7]],
    ['b', [0, 1, 2, 3, 4, 5, 6, 7]],
  ]);
  const running: { agentId: string; gpus: number[]; until: number }[] = [];
  let pending: PendingJob[] = [];
  let next = 0;
  for (let t = 0; t < ticks; t++) {
    for (let i = running.length - 1; i >= 0; i--) {
      const r = running[i]!;
      if (r.until > t) continue;
      free.get(r.agentId)!.push(...r.gpus);
      free.get(r.agentId)!.sort((x, y) => x - y);
      running.splice(i, 1);
    }
    for (let i = 0; i < 4; i++) pending.push(gpuJob(String(next++).padStart(6, '0'), 1));
    if (t === 5) pending.push(gpuJob(String(next++).padStart(6, '0'), 8));
    const agents = [...free].map(([id, gpus]) =>
      gpuAgent(id, [...gpus], { freeSlots: 8 - running.filter((r) => r.agentId === id).length }),
    );
    const result = place(pending, agents, { reservations: policy });
    for (const p of result.placements) {
      const j = pending.find((x) => x.id === p.jobId)!;
      if (j.resources.gpus === 8) return { bigStartedAt: t };
      const list = free.get(p.agentId)!;
      for (const g of p.gpus) list.splice(list.indexOf(g), 1);
      running.push({ agentId: p.agentId, gpus: p.gpus, until: t + 4 + rand(4) });
    }
    const placed = new Set(result.placements.map((p) => p.jobId));
    pending = pending.filter((j) => !placed.has(j.id));
    expect(result.pending.size).toBe(pending.length);
  }
  return { bigStartedAt: Infinity };
}

describe('place: EASY backfill with time limits', () => {
  const now = 1_000_000;
  /** `a`: one job holds 4 GPUs until now+1000 at the latest; `b`: 8 GPUs busy until now+5000. */
  const fleet = (withReleases = true) => [
    gpuAgent('a', 4, { freeSlots: 7, ...(withReleases && { releases: [{ atMs: now + 1000, slots: 1, gpus: 4 }] }) }),
    gpuAgent('b', 0, { freeSlots: 7, ...(withReleases && { releases: [{ atMs: now + 5000, slots: 1, gpus: 8 }] }) }),
  ];
  const jobs = [
    gpuJob('1-big', 8),
    gpuJob('2-short', 2, { timeLimitMs: 600 }),
    gpuJob('3-exact', 1, { timeLimitMs: 1000 }),
    gpuJob('4-long', 1, { timeLimitMs: 1001 }),
    gpuJob('5-unbounded', 1),
  ];

  it('lends a held agent only to jobs whose limit ends by its shadow time', () => {
    const result = place(jobs, fleet(), { now });
    expect(result.pending.get('1-big')?.message).toMatch(/agent a is held for it/);
    expect(on(result, '2-short')).toEqual({ jobId: '2-short', agentId: 'a', gpus: [0, 1] });
    expect(on(result, '3-exact')).toEqual({ jobId: '3-exact', agentId: 'a', gpus: [2] });
    expect(codeOf(result, '4-long')).toBe('RESERVED_FOR_LARGER_JOB');
    expect(codeOf(result, '5-unbounded')).toBe('RESERVED_FOR_LARGER_JOB');
  });

  it('never backfills without limits, releases or now: as before', () => {
    const unlimited = jobs.map((j) => ({ ...j, timeLimitMs: null }));
    for (const result of [
      place(unlimited, fleet(), { now }),
      place(jobs, fleet(false), { now }),
      place(jobs, fleet()),
      place(jobs, fleet(), { now: NaN }),
    ]) {
      expect(result.placements).toEqual([]);
      expect(result.pending.get('1-big')?.message).toMatch(/agent a is held for it/);
      expect(codeOf(result, '2-short')).toBe('RESERVED_FOR_LARGER_JOB');
    }
    // Releases that never come (no limit) give no shadow time either.
    const never = [gpuAgent('a', 4, { freeSlots: 7, releases: [{ atMs: Infinity, slots: 1, gpus: 4 }] })];
    expect(place(jobs, never, { now }).placements).toEqual([]);
  });

  it('holds the agent with the earliest shadow time when releases say so', () => {
    // x: one 4-GPU job (the fewest holders: held without releases) that ends late;
    // y: two 2-GPU jobs that end soon.
    const agents = (releases: boolean) => [
      gpuAgent('x', 4, { freeSlots: 7, ...(releases && { releases: [{ atMs: now + 9000, slots: 1, gpus: 4 }] }) }),
      gpuAgent('y', 4, {
        freeSlots: 6,
        ...(releases && {
          releases: [
            { atMs: now + 200, slots: 1, gpus: 2 },
            { atMs: now + 100, slots: 1, gpus: 2 },
          ],
        }),
      }),
    ];
    expect(place([gpuJob('big', 8)], agents(false), { now }).pending.get('big')?.message).toMatch(/agent x is held/);
    const timed = place([gpuJob('big', 8), gpuJob('s', 4, { timeLimitMs: 200 })], agents(true), { now });
    expect(timed.pending.get('big')?.message).toMatch(/agent y is held/);
    expect(on(timed, 's')?.agentId).toBe('y');
  });

  it('counts the limits of jobs placed earlier in the pass into the shadow time', () => {
    const agents = [gpuAgent('a', 8), gpuAgent('b', 0, { freeSlots: 0 })];
    const result = place(
      [
        gpuJob('1-first', 6, { timeLimitMs: 300 }),
        gpuJob('2-big', 8),
        gpuJob('3-in-time', 1, { timeLimitMs: 300 }),
        gpuJob('4-late', 1, { timeLimitMs: 301 }),
      ],
      agents,
      { now },
    );
    expect(on(result, '1-first')?.agentId).toBe('a');
    expect(result.pending.get('2-big')?.message).toMatch(/agent a is held for it/);
    expect(on(result, '3-in-time')?.agentId).toBe('a');
    expect(codeOf(result, '4-late')).toBe('RESERVED_FOR_LARGER_JOB');
  });
});
