import { describe, expect, it } from 'vitest';
import type {
  AgentCapacity,
  PendingJob,
  PendingReasonCode,
  Placement,
  PlacementResult,
  ReservationPolicy,
  Resources,
} from '@baton/core';
import { comparePending, place } from '@baton/core';

type JobInit = Partial<Omit<PendingJob, 'resources' | 'constraints'>> & {
  resources?: Partial<Resources>;
  tags?: string[];
};

const job = (id: string, init: JobInit = {}): PendingJob => {
  const { resources, tags, ...rest } = init;
  return {
    id,
    queue: 'default',
    task: 'train',
    priority: 'normal',
    priorityLevel: 0,
    avoidAgentId: null,
    ...rest,
    resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0, ...resources },
    constraints: { tags: tags ?? [] },
  };
};
const gpuJob = (id: string, gpus: number, init: JobInit = {}) =>
  job(id, { ...init, resources: { ...init.resources, gpus } });

type AgentInit = Partial<Omit<AgentCapacity, 'tasks' | 'total'>> & { tasks?: string[]; total?: Partial<Resources> };

/** A CPU-only agent with `freeSlots` of 8 slots free (unless `total` says otherwise). */
const cpuAgent = (id: string, freeSlots: number, init: AgentInit = {}): AgentCapacity => {
  const { tasks, total, ...rest } = init;
  return {
    id,
    pool: 'default',
    queues: ['default'],
    tags: [],
    freeSlots,
    freeCpu: 64,
    freeMemoryMb: 65536,
    freeGpus: [],
    gpuCount: 0,
    ...rest,
    tasks: new Set(tasks ?? ['train']),
    total: { slots: Math.max(8, freeSlots), cpu: 64, memoryMb: 65536, gpus: 0, ...total },
  };
};

/**
 * A GPU agent with `count` GPUs (8 by default) and as many slots; `free` is the number of
 * free GPUs (the lowest indices) or the free indices themselves. Each held GPU holds a slot,
 * as if one 1-GPU job ran on it, unless `freeSlots` says otherwise.
 */
const gpuAgent = (id: string, free: number | number[], init: AgentInit & { count?: number } = {}): AgentCapacity => {
  const { count = 8, tasks, total, ...rest } = init;
  const freeGpus = typeof free === 'number' ? Array.from({ length: free }, (_, i) => i) : free;
  return {
    id,
    pool: 'default',
    queues: ['default'],
    tags: [],
    freeSlots: freeGpus.length,
    freeCpu: 64,
    freeMemoryMb: 65536,
    gpuCount: count,
    ...rest,
    freeGpus,
    tasks: new Set(tasks ?? ['train']),
    total: { slots: count, cpu: 64, memoryMb: 65536, gpus: count, ...total },
  };
};

const on = (result: PlacementResult, jobId: string): Placement | undefined =>
  result.placements.find((p) => p.jobId === jobId);
const codeOf = (result: PlacementResult, jobId: string): PendingReasonCode | undefined =>
  result.pending.get(jobId)?.code;

describe('place: order and capacity', () => {
  it('orders by priority class, then level, then id', () => {
    const jobs = [
      job('05', { priority: 'low' }),
      job('03'),
      job('01'),
      job('04', { priority: 'high' }),
      job('02', { priorityLevel: 7 }),
    ];
    expect([...jobs].sort(comparePending).map((j) => j.id)).toEqual(['04', '02', '01', '03', '05']);
    const result = place(jobs, [cpuAgent('a', 3)]);
    expect(result.placements.map((p) => p.jobId)).toEqual(['04', '02', '01']);
    expect([...result.pending.keys()].sort()).toEqual(['03', '05']);
  });

  it('never places more than an agent has free, and spreads CPU jobs over the freest agent', () => {
    const result = place(
      Array.from({ length: 10 }, (_, i) => job(String(i).padStart(2, '0'))),
      [cpuAgent('a', 2), cpuAgent('b', 3), cpuAgent('full', 0)],
    );
    expect(result.placements).toHaveLength(5);
    const count = (id: string) => result.placements.filter((p) => p.agentId === id).length;
    expect(count('a')).toBe(2);
    expect(count('b')).toBe(3);
    expect(count('full')).toBe(0);
    expect(result.placements[0]?.agentId).toBe('b');
    expect(result.pending.size).toBe(5);
  });

  it('checks CPU and memory as well as slots', () => {
    const agents = [cpuAgent('small', 8, { freeCpu: 2, freeMemoryMb: 1024 }), cpuAgent('big', 4, { freeCpu: 16 })];
    const result = place(
      [
        job('1', { resources: { cpu: 8 } }),
        job('2', { resources: { cpu: 8 } }),
        job('3', { resources: { memoryMb: 2048 } }),
        job('4', { resources: { cpu: 1, memoryMb: 512 } }),
      ],
      agents,
    );
    expect(on(result, '1')?.agentId).toBe('big');
    expect(on(result, '2')?.agentId).toBe('big');
    expect(on(result, '3')?.agentId).toBe('big');
    expect(on(result, '4')?.agentId).toBe('small');
  });

  it('skips a job too big for any agent without blocking smaller ones, and says why', () => {
    const result = place(
      [job('01', { resources: { slots: 16 } }), gpuJob('02', 8), job('03')],
      [cpuAgent('a', 2), gpuAgent('g', 4, { count: 4, freeSlots: 8, total: { slots: 8 } })],
    );
    expect(result.placements.map((p) => p.jobId)).toEqual(['03']);
    expect(result.pending.get('01')).toEqual({
      code: 'RESOURCES_EXCEED_AGENTS',
      message: 'needs 16 slots; the largest eligible agent has 8',
    });
    expect(result.pending.get('02')).toEqual({
      code: 'RESOURCES_EXCEED_AGENTS',
      message: 'needs 8 GPUs; the largest eligible agent has 4',
    });
  });

  it('does not mutate its inputs', () => {
    const jobs = [job('02'), gpuJob('01', 2)];
    const agents = [cpuAgent('a', 1), gpuAgent('g', [0, 3, 5])];
    place(jobs, agents);
    expect(jobs.map((j) => j.id)).toEqual(['02', '01']);
    expect(agents[0]?.freeSlots).toBe(1);
    expect(agents[1]?.freeGpus).toEqual([0, 3, 5]);
    expect(agents[1]?.freeSlots).toBe(3);
  });
});

describe('place: eligibility', () => {
  it('needs the queue, the task and every tag on the agent', () => {
    const agents = [
      cpuAgent('plain', 8),
      cpuAgent('east', 8, { tags: ['region:us-east', 'cpu:high'] }),
      cpuAgent('video', 8, { queues: ['video'], tasks: ['encode'] }),
    ];
    const result = place(
      [
        job('1', { tags: ['region:us-east'] }),
        job('2', { tags: ['cpu:high', 'region:us-east'] }),
        job('3', { queue: 'video', task: 'encode' }),
        job('4', { queue: 'audio' }),
        job('5', { task: 'resize' }),
        job('6', { tags: ['region:eu-west'] }),
        job('7', { tags: ['region:us-east', 'gpu:a100'] }),
        job('8', { queue: 'video' }),
      ],
      agents,
    );
    expect(on(result, '1')?.agentId).toBe('east');
    expect(on(result, '2')?.agentId).toBe('east');
    expect(on(result, '3')?.agentId).toBe('video');
    expect(result.pending.get('4')).toEqual({
      code: 'NO_AGENT_FOR_QUEUE',
      message: 'no connected agent takes queue "audio"',
    });
    expect(result.pending.get('5')).toEqual({
      code: 'NO_AGENT_FOR_TASK',
      message: 'no agent of queue "default" serves task "resize"',
    });
    expect(result.pending.get('6')).toEqual({
      code: 'NO_AGENT_WITH_TAGS',
      message: 'no agent of queue "default" serving task "train" has tags region:eu-west',
    });
    expect(result.pending.get('7')?.message).toBe('no agent of queue "default" serving task "train" has tags gpu:a100');
    expect(codeOf(result, '8')).toBe('NO_AGENT_FOR_TASK');
  });

  it('says what a job with tags waits for', () => {
    const agents = [gpuAgent('east', 2, { tags: ['region:us-east'] }), gpuAgent('other', 8)];
    const jobs = [gpuJob('1', 4, { tags: ['region:us-east'] })];
    expect(place(jobs, agents, { reservations: 'none' }).pending.get('1')).toEqual({
      code: 'WAITING_FOR_CAPACITY',
      message: 'waiting for 4 free GPUs on an agent with tags region:us-east',
    });
    expect(place(jobs, agents).pending.get('1')).toEqual({
      code: 'WAITING_FOR_CAPACITY',
      message:
        'waiting for 4 free GPUs on an agent with tags region:us-east; agent east is held for it (2 GPUs free now)',
    });
  });
});

describe('place: GPUs', () => {
  it('packs best fit: the agent left with the fewest free GPUs', () => {
    const agents = [gpuAgent('g8', 8), gpuAgent('g2', 2), gpuAgent('g4', 4)];
    expect(on(place([gpuJob('1', 2)], agents), '1')?.agentId).toBe('g2');
    expect(on(place([gpuJob('1', 4)], agents), '1')?.agentId).toBe('g4');
    expect(on(place([gpuJob('1', 3)], agents), '1')?.agentId).toBe('g4');
    expect(on(place([gpuJob('1', 8)], agents), '1')?.agentId).toBe('g8');
    // In one pass: each job sees what the ones before it left.
    const result = place([gpuJob('1', 2), gpuJob('2', 4), gpuJob('3', 1), gpuJob('4', 2)], agents);
    expect(result.placements.map((p) => [p.jobId, p.agentId])).toEqual([
      ['1', 'g2'],
      ['2', 'g4'],
      ['3', 'g8'],
      ['4', 'g8'],
    ]);
  });

  it('breaks ties by fewer free slots, then agent id', () => {
    const agents = [gpuAgent('b', 2, { freeSlots: 3 }), gpuAgent('a', 2, { freeSlots: 5 }), gpuAgent('c', 2)];
    expect(on(place([gpuJob('1', 1)], agents), '1')?.agentId).toBe('c');
    const even = [gpuAgent('b', 2), gpuAgent('a', 2)];
    expect(on(place([gpuJob('1', 1)], even), '1')?.agentId).toBe('a');
  });

  it('hands out the lowest free device indices, never one twice', () => {
    const result = place(
      [gpuJob('1', 2), gpuJob('2', 1), gpuJob('3', 1), gpuJob('4', 1)],
      [gpuAgent('g', [6, 1, 4, 3])],
    );
    expect(result.placements).toEqual([
      { jobId: '1', agentId: 'g', gpus: [1, 3] },
      { jobId: '2', agentId: 'g', gpus: [4] },
      { jobId: '3', agentId: 'g', gpus: [6] },
    ]);
    expect(codeOf(result, '4')).toBe('BEHIND_HIGHER_PRIORITY');
  });

  it('keeps CPU-only jobs on GPU-less agents while one has room', () => {
    const agents = [gpuAgent('gpu', 4, { freeSlots: 16, total: { slots: 16 } }), cpuAgent('cpu', 2)];
    const result = place([job('1'), job('2'), job('3')], agents);
    expect(on(result, '1')?.agentId).toBe('cpu');
    expect(on(result, '2')?.agentId).toBe('cpu');
    expect(on(result, '3')?.agentId).toBe('gpu');
  });

  it('lets CPU-only jobs onto a GPU agent only if it keeps a slot for each free GPU', () => {
    // A full GPU-less agent exists: CPU-only work waits for it rather than take GPU slots.
    const agents = [gpuAgent('gpu', 4, { freeSlots: 6, total: { slots: 16 } }), cpuAgent('cpu', 0)];
    const result = place([job('1'), job('2'), job('3'), gpuJob('4', 4)], agents);
    expect(result.placements.map((p) => p.jobId)).toEqual(['1', '2', '4']);
    expect(codeOf(result, '3')).toBe('BEHIND_HIGHER_PRIORITY');
    // A GPU agent with one slot per GPU takes no CPU-only work while a GPU-less agent could.
    const tight = place([job('1')], [gpuAgent('gpu', 8), cpuAgent('cpu', 0)]);
    expect(tight.placements).toEqual([]);
    expect(codeOf(tight, '1')).toBe('WAITING_FOR_CAPACITY');
  });

  it('lets CPU-only jobs use any slot of a GPU agent when no GPU-less agent is eligible', () => {
    const result = place([job('1'), gpuJob('2', 4), gpuJob('3', 1)], [gpuAgent('gpu', 8, { freeSlots: 2 })]);
    expect(on(result, '1')?.agentId).toBe('gpu');
    expect(on(result, '2')?.gpus).toEqual([0, 1, 2, 3]);
    // The slot the CPU job took was one a GPU job needed.
    expect(codeOf(result, '3')).toBe('BEHIND_HIGHER_PRIORITY');
    // Spare slots are still taken first.
    const two = place(
      [job('1')],
      [gpuAgent('tight', 8), gpuAgent('roomy', 8, { freeSlots: 10, total: { slots: 10 } })],
    );
    expect(on(two, '1')?.agentId).toBe('roomy');
  });
});

describe('place: avoidAgentId', () => {
  it('prefers any other agent that can take the job now', () => {
    const agents = [cpuAgent('a', 8), cpuAgent('b', 2)];
    expect(on(place([job('1', { avoidAgentId: 'a' })], agents), '1')?.agentId).toBe('b');
    const gpus = [gpuAgent('fit', 2), gpuAgent('loose', 8)];
    expect(on(place([gpuJob('1', 2, { avoidAgentId: 'fit' })], gpus), '1')?.agentId).toBe('loose');
    // A GPU agent with spare slots beats the avoided CPU agent.
    const mixed = [cpuAgent('a', 8), gpuAgent('g', 0, { freeSlots: 4 })];
    expect(on(place([job('1', { avoidAgentId: 'a' })], mixed), '1')?.agentId).toBe('g');
  });

  it('uses the avoided agent when it is the only one that can', () => {
    const agents = [cpuAgent('a', 8), cpuAgent('b', 0)];
    expect(on(place([job('1', { avoidAgentId: 'a' })], agents), '1')?.agentId).toBe('a');
    const gpus = [gpuAgent('only', 4), gpuAgent('small', 1)];
    expect(on(place([gpuJob('1', 2, { avoidAgentId: 'only' })], gpus), '1')?.agentId).toBe('only');
  });
});

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

describe('place: a reason for every job not placed', () => {
  it('gives each unplaced job the right code, also for repeated and larger shapes', () => {
    const agents = [cpuAgent('c', 1), gpuAgent('g', 2, { freeSlots: 2, count: 4 })];
    const result = place(
      [
        job('a1'),
        job('a2'),
        job('a3', { resources: { slots: 2 } }),
        job('a4', { resources: { slots: 20 } }),
        gpuJob('g1', 2),
        gpuJob('g2', 2),
        gpuJob('g3', 3),
        gpuJob('g4', 6),
        job('q', { queue: 'nope' }),
      ],
      agents,
    );
    expect(result.placements.map((p) => p.jobId)).toEqual(['a1', 'g1']);
    expect(Object.fromEntries([...result.pending].map(([id, r]) => [id, r.code]))).toEqual({
      a2: 'BEHIND_HIGHER_PRIORITY',
      a3: 'WAITING_FOR_CAPACITY',
      a4: 'RESOURCES_EXCEED_AGENTS',
      g2: 'BEHIND_HIGHER_PRIORITY',
      g3: 'WAITING_FOR_CAPACITY',
      g4: 'RESOURCES_EXCEED_AGENTS',
      q: 'NO_AGENT_FOR_QUEUE',
    });
    expect(result.pending.get('a3')?.message).toBe('waiting for 2 free slots on an agent of queue "default"');
    expect(result.pending.get('a2')?.message).toBe(
      'jobs ahead of it in priority order took the room it needs (1 slot)',
    );
  });

  it('answers many identical jobs that fit nowhere', () => {
    const jobs = Array.from({ length: 5000 }, (_, i) => gpuJob(String(i).padStart(5, '0'), 4));
    const result = place(jobs, [gpuAgent('g', 5), gpuAgent('h', 3)]);
    expect(result.placements).toHaveLength(1);
    expect(result.pending.size).toBe(4999);
    expect(new Set([...result.pending.values()].map((r) => r.code))).toEqual(new Set(['BEHIND_HIGHER_PRIORITY']));
    expect(result.pending.get('00001')?.message).toMatch(/agent g is held for it/);
  });
});

describe('place on random fleets', () => {
  const queues = ['a', 'b'];
  const tasks = ['t1', 't2'];
  const tagPool = ['x', 'y'];

  function randomCase(rand: (n: number) => number): { agents: AgentCapacity[]; jobs: PendingJob[] } {
    const agents = Array.from({ length: 1 + rand(12) }, (_, i) => {
      const init: AgentInit = {
        queues: queues.filter(() => rand(3) > 0),
        tasks: tasks.filter(() => rand(3) > 0),
        tags: tagPool.filter(() => rand(2) === 0),
        freeCpu: rand(9),
        freeMemoryMb: 1024 * rand(9),
      };
      if (rand(2) === 0) return cpuAgent(`ag${i}`, rand(6), init);
      const count = [2, 4, 8][rand(3)]!;
      const freeGpus = Array.from({ length: count }, (_, g) => g).filter(() => rand(3) > 0);
      const slots = count + rand(8);
      return gpuAgent(`ag${i}`, freeGpus, {
        ...init,
        count,
        freeSlots: Math.max(0, slots - (count - freeGpus.length) - rand(2)),
        total: { slots },
      });
    });
    const jobs = Array.from({ length: rand(50) }, (_, i) =>
      job(String(i).padStart(4, '0'), {
        queue: queues[rand(2)]!,
        task: tasks[rand(2)]!,
        priority: (['high', 'normal', 'low'] as const)[rand(3)]!,
        tags: rand(4) === 0 ? [tagPool[rand(2)]!] : [],
        avoidAgentId: rand(5) === 0 ? `ag${rand(4)}` : null,
        resources: { slots: 1 + rand(2), cpu: rand(3), memoryMb: 512 * rand(3), gpus: rand(2) === 0 ? 0 : 1 + rand(4) },
      }),
    );
    return { agents, jobs };
  }

  const eligible = (a: AgentCapacity, j: PendingJob) =>
    a.queues.includes(j.queue) && a.tasks.has(j.task) && j.constraints.tags.every((t) => a.tags.includes(t));

  for (const policy of ['larger', 'none'] as const) {
    it(`never over-allocates and answers for every job (reservations: ${policy})`, () => {
      const rand = random(42);
      const seen = { placed: 0, held: 0, reserved: 0, cpuOnGpuAgent: 0 };
      for (let round = 0; round < 300; round++) {
        const { agents, jobs } = randomCase(rand);
        const result = place(jobs, agents, { reservations: policy });
        const byId = new Map(jobs.map((j) => [j.id, j]));
        const placedIds = result.placements.map((p) => p.jobId);
        expect(new Set(placedIds).size).toBe(placedIds.length);
        for (const j of jobs) expect(result.pending.has(j.id)).toBe(!placedIds.includes(j.id));

        const state = new Map(
          agents.map((a) => [
            a.id,
            { slots: a.freeSlots, cpu: a.freeCpu, mem: a.freeMemoryMb, gpus: new Set(a.freeGpus) },
          ]),
        );
        const decisions = new Map(result.placements.map((p) => [p.jobId, p]));
        // Agents held for blocked jobs, from their reasons: no later job takes GPUs there.
        const heldBy = new Map<string, PendingJob>();
        for (const [id, reason] of result.pending) {
          const held = /agent (\S+) is held for it/.exec(reason.message)?.[1];
          if (held) {
            seen.held++;
            expect(heldBy.has(held), `${held} held twice`).toBe(false);
            heldBy.set(held, byId.get(id)!);
          }
        }
        for (const p of result.placements) {
          const holder = heldBy.get(p.agentId);
          if (holder && p.gpus.length > 0) expect(comparePending(byId.get(p.jobId)!, holder)).toBeLessThan(0);
        }
        // Replay in priority order, checking each decision against what was free at its turn.
        for (const j of [...jobs].sort(comparePending)) {
          const r = j.resources;
          const fitsNow = (a: AgentCapacity) => {
            const s = state.get(a.id)!;
            const fit =
              eligible(a, j) && s.slots >= r.slots && s.cpu >= r.cpu && s.mem >= r.memoryMb && s.gpus.size >= r.gpus;
            // CPU-only work on a GPU agent must leave a slot per free GPU, unless no GPU-less
            // agent is eligible for it at all.
            const gpuOnly = agents.every((x) => !eligible(x, j) || x.gpuCount > 0);
            return fit && (r.gpus > 0 || a.gpuCount === 0 || gpuOnly || s.slots - r.slots >= s.gpus.size);
          };
          const p = decisions.get(j.id);
          if (!p) {
            if (policy === 'none') expect(agents.filter(fitsNow), `job ${j.id} skipped although it fit`).toEqual([]);
            continue;
          }
          const a = agents.find((x) => x.id === p.agentId)!;
          expect(fitsNow(a), `job ${j.id} placed on ${a.id} where it does not fit`).toBe(true);
          const others = agents.filter((x) => x.id !== a.id && x.id !== j.avoidAgentId && fitsNow(x));
          const s = state.get(a.id)!;
          seen.placed++;
          if (r.gpus === 0 && a.gpuCount > 0) seen.cpuOnGpuAgent++;
          expect(p.gpus).toHaveLength(r.gpus);
          for (const g of p.gpus) {
            expect(s.gpus.has(g), `GPU ${g} of ${a.id} given twice or never free`).toBe(true);
            s.gpus.delete(g);
          }
          if (policy === 'none') {
            if (a.id === j.avoidAgentId) expect(others).toEqual([]);
            if (r.gpus > 0 && a.id !== j.avoidAgentId) {
              // Best fit: no other candidate would be left with fewer free GPUs.
              const left = state.get(a.id)!.gpus.size;
              for (const o of others) expect(state.get(o.id)!.gpus.size - r.gpus).toBeGreaterThanOrEqual(left);
            }
            if (r.gpus === 0 && a.gpuCount > 0) {
              expect(others.filter((o) => o.gpuCount === 0)).toEqual([]);
            }
          }
          s.slots -= r.slots;
          s.cpu -= r.cpu;
          s.mem -= r.memoryMb;
          expect(s.slots).toBeGreaterThanOrEqual(0);
          expect(s.cpu).toBeGreaterThanOrEqual(0);
          expect(s.mem).toBeGreaterThanOrEqual(0);
        }
        for (const [id, reason] of result.pending) {
          const j = byId.get(id)!;
          if (reason.code === 'RESERVED_FOR_LARGER_JOB') seen.reserved++;
          if (reason.code === 'NO_AGENT_FOR_QUEUE') expect(agents.some((a) => a.queues.includes(j.queue))).toBe(false);
          if (reason.code === 'RESOURCES_EXCEED_AGENTS' || reason.code.startsWith('NO_AGENT')) {
            expect(agents.some((a) => eligible(a, j) && fitsIdle(a, j.resources))).toBe(false);
          }
        }
      }
      // The cases exercise what they claim to.
      expect(seen.placed).toBeGreaterThan(1000);
      expect(seen.cpuOnGpuAgent).toBeGreaterThan(10);
      if (policy === 'none') expect(seen.held + seen.reserved).toBe(0);
      else expect(Math.min(seen.held, seen.reserved)).toBeGreaterThan(10);
    });
  }

  it('with random time limits and releases: never over-allocates, and lends held room only to jobs done in time', () => {
    const rand = random(4242);
    const now = 50_000;
    const seen = { placed: 0, held: 0, backfilled: 0, refused: 0 };
    for (let round = 0; round < 400; round++) {
      const base = randomCase(rand);
      // Each GPU agent's used GPUs come back in random parts, some at a known time, some never.
      const agents = base.agents.map((a) => {
        if (a.gpuCount === 0 || rand(4) === 0) return a;
        let used = a.gpuCount - a.freeGpus.length;
        const releases = [];
        while (used > 0) {
          const gpus = 1 + rand(used);
          used -= gpus;
          releases.push({ atMs: rand(5) === 0 ? Infinity : now - 100 + rand(2000), slots: 1, gpus, cpu: rand(2) });
        }
        return { ...a, releases };
      });
      const jobs = base.jobs.map((j) => (rand(4) === 0 ? j : { ...j, timeLimitMs: rand(3000) }));
      const result = place(jobs, agents, { now });
      const byId = new Map(jobs.map((j) => [j.id, j]));
      const placedIds = result.placements.map((p) => p.jobId);
      expect(new Set(placedIds).size).toBe(placedIds.length);
      for (const j of jobs) expect(result.pending.has(j.id)).toBe(!placedIds.includes(j.id));
      const heldBy = new Map<string, PendingJob>();
      for (const [id, reason] of result.pending) {
        const held = /agent (\S+) is held for it/.exec(reason.message)?.[1];
        if (held) {
          expect(heldBy.has(held), `${held} held twice`).toBe(false);
          heldBy.set(held, byId.get(id)!);
        }
      }
      seen.held += heldBy.size;
      const state = new Map(
        agents.map((a) => [
          a.id,
          {
            slots: a.freeSlots,
            cpu: a.freeCpu,
            mem: a.freeMemoryMb,
            gpus: new Set(a.freeGpus),
            placed: [] as PendingJob[],
          },
        ]),
      );
      const decisions = new Map(result.placements.map((p) => [p.jobId, p]));
      /** Shadow time of each held agent, replayed independently at its holder's turn. */
      const shadowOf = new Map<string, number>();
      for (const j of [...jobs].sort(comparePending)) {
        const r = j.resources;
        const p = decisions.get(j.id);
        const holdsAgent = [...heldBy].find(([, h]) => h === j)?.[0];
        if (holdsAgent !== undefined) {
          const a = agents.find((x) => x.id === holdsAgent)!;
          const s = state.get(a.id)!;
          const releases = [
            ...(a.releases ?? []),
            ...s.placed
              .filter((x) => x.timeLimitMs != null)
              .map((x) => ({ atMs: now + x.timeLimitMs!, ...x.resources })),
          ]
            .filter((x) => Number.isFinite(x.atMs))
            .sort((x, y) => x.atMs - y.atMs);
          let [slots, cpu, mem, gpus] = [s.slots, s.cpu, s.mem, s.gpus.size];
          const cap = Math.min(a.total.gpus, a.gpuCount);
          const fits = () => slots >= r.slots && cpu >= r.cpu && mem >= r.memoryMb && gpus >= r.gpus;
          let shadow = fits() ? now : Infinity;
          for (const x of releases) {
            if (shadow !== Infinity) break;
            slots += x.slots;
            cpu += x.cpu ?? 0;
            mem += x.memoryMb ?? 0;
            gpus = Math.min(cap, gpus + x.gpus);
            if (fits()) shadow = Math.max(now, x.atMs);
          }
          shadowOf.set(a.id, shadow);
        }
        if (!p) continue;
        const a = agents.find((x) => x.id === p.agentId)!;
        expect(eligible(a, j)).toBe(true);
        const s = state.get(a.id)!;
        seen.placed++;
        expect(p.gpus).toHaveLength(r.gpus);
        for (const g of p.gpus) {
          expect(s.gpus.has(g), `GPU ${g} of ${a.id} given twice or never free`).toBe(true);
          s.gpus.delete(g);
        }
        s.slots -= r.slots;
        s.cpu -= r.cpu;
        s.mem -= r.memoryMb;
        s.placed.push(j);
        expect(Math.min(s.slots, s.cpu, s.mem)).toBeGreaterThanOrEqual(0);
        const holder = heldBy.get(a.id);
        if (!holder || comparePending(j, holder) < 0) continue;
        // After the holder's turn: GPUs of a held agent, or room the holder needs, only for a
        // job whose limit ends by the shadow time.
        const hr = holder.resources;
        const intrudes = r.gpus > 0 || s.slots < hr.slots || s.cpu < hr.cpu || s.mem < hr.memoryMb;
        if (!intrudes) continue;
        seen.backfilled++;
        expect(j.timeLimitMs, `job ${j.id} without a limit on held ${a.id}`).toBeTypeOf('number');
        expect(now + j.timeLimitMs!).toBeLessThanOrEqual(shadowOf.get(a.id)!);
      }
      for (const [id, reason] of result.pending) {
        if (reason.code === 'RESERVED_FOR_LARGER_JOB' && byId.get(id)!.timeLimitMs != null) seen.refused++;
      }
    }
    expect(seen.placed).toBeGreaterThan(1000);
    expect(seen.held).toBeGreaterThan(50);
    expect(seen.backfilled).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
  });
});

/** A seeded xorshift32: `rand(n)` is an integer in [0, n). */
function random(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return Math.floor((s / 4294967296) * n);
  };
}

function fitsIdle(a: AgentCapacity, r: Resources): boolean {
  const gpus = Math.min(a.total.gpus, a.gpuCount);
  const slots = r.gpus === 0 && a.gpuCount > 0 ? a.total.slots - gpus : a.total.slots;
  return slots >= r.slots && a.total.cpu >= r.cpu && a.total.memoryMb >= r.memoryMb && gpus >= r.gpus;
}
