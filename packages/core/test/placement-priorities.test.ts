import { describe, expect, it } from 'vitest';
import type { AgentCapacity, PendingJob, PriorityClass } from '@baton/core';
import { PRIORITY_CLASSES, comparePending, place } from '@baton/core';
import type { AgentInit } from './placement-fixtures.js';
import { codeOf, cpuAgent, gpuAgent, gpuJob, job, on, random } from './placement-fixtures.js';

/** Priority pools: an agent with `priorities` takes only jobs of those classes. */
describe('agents dedicated to priority classes', () => {
  it('refuses jobs of other classes, with NO_AGENT_FOR_PRIORITY', () => {
    const agents = [cpuAgent('a-high', 8, { priorities: ['high'] })];
    const result = place([job('j1', { priority: 'low' }), job('j2', { priority: 'high' })], agents);
    expect(on(result, 'j2')?.agentId).toBe('a-high');
    expect(on(result, 'j1')).toBeUndefined();
    expect(result.pending.get('j1')).toEqual({
      code: 'NO_AGENT_FOR_PRIORITY',
      message:
        'no agent of queue "default" serving task "train" takes low-priority jobs: its only eligible agent is dedicated to high',
    });
  });

  it('names every class the eligible agents are dedicated to', () => {
    const agents = [cpuAgent('a', 8, { priorities: ['high'] }), cpuAgent('b', 8, { priorities: ['normal'] })];
    const result = place([job('j1', { priority: 'low' })], agents);
    expect(result.pending.get('j1')?.message).toMatch(/its 2 eligible agents are dedicated to high, normal$/);
  });

  it('places each class of a mixed fleet only where it is served', () => {
    const agents = [
      gpuAgent('g-high', 4, { count: 4, priorities: ['high'] }),
      gpuAgent('g-open', 4, { count: 4 }),
      cpuAgent('c-normal', 4, { priorities: ['normal', 'low'] }),
    ];
    const jobs = [
      gpuJob('h1', 4, { priority: 'high' }),
      gpuJob('l1', 4, { priority: 'low' }),
      gpuJob('l2', 1, { priority: 'low' }),
      job('n1', { priority: 'normal' }),
      job('h2', { priority: 'high' }),
    ];
    const result = place(jobs, agents, { reservations: 'none' });
    // h1 fits either GPU agent equally (ties go by id: g-high); l1 may only use the open one.
    expect(on(result, 'h1')?.agentId).toBe('g-high');
    expect(on(result, 'l1')?.agentId).toBe('g-open');
    // l1 took the room of the only agent that takes low work: behind it, not ineligible.
    expect(codeOf(result, 'l2')).toBe('BEHIND_HIGHER_PRIORITY');
    expect(on(result, 'n1')?.agentId).toBe('c-normal');
    // A CPU job of class high: c-normal does not take it, so it may use any slot of a GPU agent.
    expect(on(result, 'h2')?.agentId).toBe('g-high');
  });

  it('checks queue, task and tags before priority', () => {
    const agents = [cpuAgent('a', 8, { priorities: ['high'], tags: ['x'] })];
    expect(codeOf(place([job('q', { queue: 'other', priority: 'low' })], agents), 'q')).toBe('NO_AGENT_FOR_QUEUE');
    expect(codeOf(place([job('t', { task: 'other', priority: 'low' })], agents), 't')).toBe('NO_AGENT_FOR_TASK');
    expect(codeOf(place([job('g', { tags: ['y'], priority: 'low' })], agents), 'g')).toBe('NO_AGENT_WITH_TAGS');
    expect(codeOf(place([job('p', { tags: ['x'], priority: 'low' })], agents), 'p')).toBe('NO_AGENT_FOR_PRIORITY');
  });

  it('leaves queues without a dedicated agent as they were', () => {
    const agents = [cpuAgent('a', 1, { queues: ['pool'], priorities: ['high'] }), cpuAgent('b', 1)];
    const result = place([job('j1', { priority: 'low' }), job('j2', { priority: 'low', queue: 'pool' })], agents);
    expect(on(result, 'j1')?.agentId).toBe('b');
    expect(codeOf(result, 'j2')).toBe('NO_AGENT_FOR_PRIORITY');
  });

  it('never places a job on an agent that does not serve its class (random fleets)', () => {
    const rand = random(7);
    const queues = ['a', 'b'];
    const tagPool = ['x', 'y'];
    const seen = { placed: 0, onDedicated: 0, noAgentForPriority: 0 };
    for (let round = 0; round < 300; round++) {
      const agents = Array.from({ length: 1 + rand(10) }, (_, i): AgentCapacity => {
        const priorities = PRIORITY_CLASSES.filter(() => rand(2) === 0);
        const init: AgentInit = {
          queues: queues.filter(() => rand(3) > 0),
          tags: tagPool.filter(() => rand(2) === 0),
          // About half the agents are dedicated to one or two classes.
          ...(rand(2) === 0 && priorities.length > 0 && priorities.length < 3 && { priorities }),
        };
        if (rand(2) === 0) return cpuAgent(`ag${i}`, rand(6), init);
        const count = [2, 4, 8][rand(3)]!;
        return gpuAgent(`ag${i}`, rand(count + 1), { ...init, count, total: { slots: count + rand(4) } });
      });
      const jobs = Array.from({ length: rand(40) }, (_, i) =>
        job(String(i).padStart(4, '0'), {
          queue: queues[rand(2)]!,
          priority: PRIORITY_CLASSES[rand(3)]!,
          tags: rand(4) === 0 ? [tagPool[rand(2)]!] : [],
          resources: { slots: 1, gpus: rand(2) === 0 ? 0 : 1 + rand(3) },
        }),
      );
      for (const policy of ['larger', 'none'] as const) {
        const result = place(jobs, agents, { reservations: policy });
        const byId = new Map(agents.map((a) => [a.id, a]));
        const serves = (a: AgentCapacity, p: PriorityClass) => a.priorities === undefined || a.priorities.includes(p);
        const eligible = (a: AgentCapacity, j: PendingJob) =>
          a.queues.includes(j.queue) && a.tasks.has(j.task) && j.constraints.tags.every((t) => a.tags.includes(t));
        for (const p of result.placements) {
          const j = jobs.find((x) => x.id === p.jobId)!;
          const a = byId.get(p.agentId)!;
          expect(serves(a, j.priority), `${j.priority} job ${j.id} placed on ${a.id} (${a.priorities})`).toBe(true);
          seen.placed++;
          if (a.priorities) seen.onDedicated++;
        }
        for (const j of [...jobs].sort(comparePending)) {
          const reason = result.pending.get(j.id);
          if (!reason) continue;
          const candidates = agents.filter((a) => eligible(a, j));
          if (reason.code === 'NO_AGENT_FOR_PRIORITY') {
            seen.noAgentForPriority++;
            expect(candidates.length).toBeGreaterThan(0);
            expect(candidates.some((a) => serves(a, j.priority))).toBe(false);
          } else if (candidates.length > 0 && !reason.code.startsWith('NO_AGENT')) {
            expect(candidates.some((a) => serves(a, j.priority))).toBe(true);
          }
        }
      }
    }
    expect(seen.placed).toBeGreaterThan(500);
    expect(seen.onDedicated).toBeGreaterThan(100);
    expect(seen.noAgentForPriority).toBeGreaterThan(50);
  });
});
