import { describe, expect, it } from 'vitest';
import type { AgentCapacity, PriorityClass, RunningJobView } from '@baton/core';
import { planPreemptions } from '@baton/core';
import { cpuAgent, gpuAgent, gpuJob, job } from './placement-fixtures.js';

const NOW = 10_000_000;
const MIN = 60_000;
const running = (
  jobId: string,
  priority: PriorityClass | null,
  init: Partial<Omit<RunningJobView, 'jobId' | 'priority'>> = {},
): RunningJobView => ({
  jobId,
  priority,
  owner: 'someone',
  startedAt: NOW - 10 * MIN,
  slots: 1,
  cpu: 0,
  memoryMb: 0,
  gpus: [],
  ...init,
});
/** A full CPU agent of `slots` slots running `jobs`. */
const busyCpu = (
  id: string,
  jobs: RunningJobView[],
  init: Partial<Omit<AgentCapacity, 'tasks' | 'total'>> = {},
): AgentCapacity =>
  cpuAgent(id, 0, { total: { slots: jobs.length }, preemptible: true, minRuntimeMs: MIN, running: jobs, ...init });

describe('planPreemptions', () => {
  it('stops one lower-class job, the one losing least work, for a waiting high job', () => {
    const agent = busyCpu('a', [
      running('old', 'low', { startedAt: NOW - 30 * MIN }),
      running('young', 'low', { startedAt: NOW - 2 * MIN }),
    ]);
    const plan = planPreemptions([job('h', { priority: 'high' })], [agent], { now: NOW });
    expect(plan.victims).toEqual([{ jobId: 'young', agentId: 'a' }]);
    expect([...plan.waiting]).toEqual(['h']);
  });

  it('never stops a job of the same or a higher class, an unknown class, or one younger than minRuntimeMs', () => {
    const agent = busyCpu('a', [
      running('same', 'normal'),
      running('higher', 'high'),
      running('unknown', null),
      running('fresh', 'low', { startedAt: NOW - MIN + 1 }),
    ]);
    expect(planPreemptions([job('n', { priority: 'normal' })], [agent], { now: NOW }).victims).toEqual([]);
    // The fresh one becomes a victim once it has run its minimum.
    expect(planPreemptions([job('n', { priority: 'normal' })], [agent], { now: NOW + 1 }).victims).toEqual([
      { jobId: 'fresh', agentId: 'a' },
    ]);
  });

  it('stops nothing on agents that are not preemptible, and nothing for the lowest class', () => {
    const plain = busyCpu('a', [running('x', 'low')], { preemptible: false });
    expect(planPreemptions([job('h', { priority: 'high' })], [plain], { now: NOW }).victims).toEqual([]);
    const agent = busyCpu('b', [running('x', 'low')]);
    expect(planPreemptions([job('l', { priority: 'low' })], [agent], { now: NOW }).victims).toEqual([]);
  });

  it('frees no more than needed: the fewest jobs, even when they lose more work', () => {
    const agent = gpuAgent('g', 0, {
      preemptible: true,
      minRuntimeMs: MIN,
      running: [
        running('big', 'low', { gpus: [0, 1, 2, 3], startedAt: NOW - 40 * MIN }),
        ...[4, 5, 6, 7].map((g) => running(`small${g}`, 'low', { gpus: [g], startedAt: NOW - 5 * MIN })),
      ],
    });
    const plan = planPreemptions([gpuJob('h', 4, { priority: 'high' })], [agent], { now: NOW });
    expect(plan.victims).toEqual([{ jobId: 'big', agentId: 'g' }]);
    // Fewest jobs comes first, as the issue orders it: for two GPUs one job (the big one) is
    // stopped rather than two small ones, though it loses more work.
    const two = planPreemptions([gpuJob('h2', 2, { priority: 'high' })], [agent], { now: NOW });
    expect(two.victims).toEqual([{ jobId: 'big', agentId: 'g' }]);
    // Without the big one, two small ones: the newest (least work lost) of them.
    const smallOnly = {
      ...agent,
      running: agent
        .running!.filter((r) => r.jobId !== 'big')
        .map((r, i) => ({ ...r, startedAt: NOW - (10 + i) * MIN })),
    };
    const pair = planPreemptions([gpuJob('h3', 2, { priority: 'high' })], [smallOnly], { now: NOW });
    expect(pair.victims.map((v) => v.jobId).sort()).toEqual(['small4', 'small5']);
  });

  it('picks the agent where the cheapest set frees the room', () => {
    const needsTwo = gpuAgent('two', 0, {
      count: 2,
      preemptible: true,
      minRuntimeMs: MIN,
      running: [running('a1', 'low', { gpus: [0] }), running('a2', 'low', { gpus: [1] })],
    });
    const needsOne = gpuAgent('one', 0, {
      count: 2,
      preemptible: true,
      minRuntimeMs: MIN,
      running: [running('b1', 'low', { gpus: [0, 1], startedAt: NOW - 90 * MIN })],
    });
    const plan = planPreemptions([gpuJob('h', 2, { priority: 'high' })], [needsTwo, needsOne], { now: NOW });
    expect(plan.victims).toEqual([{ jobId: 'b1', agentId: 'one' }]);
  });

  it('waits for room already being freed instead of stopping more, and two jobs never count on the same room', () => {
    const agent = busyCpu('a', [running('stopping', 'low', { preempting: true }), running('other', 'low')]);
    const plan = planPreemptions([job('h1', { priority: 'high' }), job('h2', { priority: 'high' })], [agent], {
      now: NOW,
    });
    expect([...plan.waiting].sort()).toEqual(['h1', 'h2']);
    // h1 waits for the job already stopping; h2 needs one more.
    expect(plan.victims).toEqual([{ jobId: 'other', agentId: 'a' }]);
  });

  it('only uses agents the waiting job is eligible for', () => {
    const otherQueue = busyCpu('a', [running('x', 'low')], { queues: ['elsewhere'] });
    expect(planPreemptions([job('h', { priority: 'high' })], [otherQueue], { now: NOW }).victims).toEqual([]);
  });
});
