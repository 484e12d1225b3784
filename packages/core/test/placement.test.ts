import { describe, expect, it } from 'vitest';
import { comparePending, place } from '@baton/core';
import { codeOf, cpuAgent, gpuAgent, gpuJob, job, on } from './placement-fixtures.js';

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
