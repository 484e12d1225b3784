import { describe, expect, it } from 'vitest';
import type { AgentCapacity, PendingJob } from '@baton/core';
import { comparePending, place } from '@baton/core';

const job = (id: string, extra: Partial<PendingJob> = {}): PendingJob => ({
  id,
  queue: 'default',
  priority: 'normal',
  priorityLevel: 0,
  resources: { slots: 1 },
  ...extra,
});
const agent = (id: string, freeSlots: number, queues = ['default']): AgentCapacity => ({ id, queues, freeSlots });

describe('place', () => {
  it('orders by priority class, then level, then id', () => {
    const jobs = [
      job('05', { priority: 'low' }),
      job('03'),
      job('01'),
      job('04', { priority: 'high' }),
      job('02', { priorityLevel: 7 }),
    ];
    expect([...jobs].sort(comparePending).map((j) => j.id)).toEqual(['04', '02', '01', '03', '05']);
    const placed = place(jobs, [agent('a', 3)]);
    expect(placed.map((p) => p.jobId)).toEqual(['04', '02', '01']);
  });

  it('never places more than an agent has free, and spreads over the freest agent', () => {
    const placed = place(
      Array.from({ length: 10 }, (_, i) => job(String(i).padStart(2, '0'))),
      [agent('a', 2), agent('b', 3), agent('full', 0)],
    );
    expect(placed).toHaveLength(5);
    const count = (id: string) => placed.filter((p) => p.agentId === id).length;
    expect(count('a')).toBe(2);
    expect(count('b')).toBe(3);
    expect(count('full')).toBe(0);
    expect(placed[0]?.agentId).toBe('b');
  });

  it('only places a job on agents subscribed to its queue', () => {
    const placed = place([job('01', { queue: 'video' }), job('02')], [agent('a', 5, ['default'])]);
    expect(placed).toEqual([{ jobId: '02', agentId: 'a' }]);
  });

  it('skips a job too big for any agent without blocking smaller ones', () => {
    const placed = place([job('01', { resources: { slots: 4 } }), job('02')], [agent('a', 2)]);
    expect(placed).toEqual([{ jobId: '02', agentId: 'a' }]);
  });

  it('does not mutate its inputs', () => {
    const jobs = [job('02'), job('01')];
    const agents = [agent('a', 1)];
    place(jobs, agents);
    expect(jobs.map((j) => j.id)).toEqual(['02', '01']);
    expect(agents[0]?.freeSlots).toBe(1);
  });
});
