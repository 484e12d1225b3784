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

describe('place on random fleets', () => {
  it('respects capacity and subscriptions, and skips a job only when no subscribed agent can fit it', () => {
    let seed = 42;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const queues = ['a', 'b', 'c'];
    for (let round = 0; round < 50; round++) {
      const agents = Array.from({ length: 1 + rand(20) }, (_, i) =>
        agent(
          `ag${i}`,
          rand(6),
          queues.filter(() => rand(2) === 0),
        ),
      );
      const jobs = Array.from({ length: rand(60) }, (_, i) =>
        job(String(i).padStart(4, '0'), { queue: queues[rand(3)]!, resources: { slots: 1 + rand(3) } }),
      );
      const placed = place(jobs, agents);
      const free = new Map(agents.map((a) => [a.id, a.freeSlots]));
      const byId = new Map(jobs.map((j) => [j.id, j]));
      const placedIds = new Set(placed.map((p) => p.jobId));
      expect(placedIds.size).toBe(placed.length);
      // Replay in priority order: each skipped job must not have fit anywhere at its turn.
      const decisions = new Map(placed.map((p) => [p.jobId, p.agentId]));
      for (const j of [...jobs].sort(comparePending)) {
        const chosen = decisions.get(j.id);
        const fits = agents.filter((a) => a.queues.includes(j.queue) && (free.get(a.id) ?? 0) >= j.resources.slots);
        if (chosen === undefined) {
          expect(fits, `job ${j.id} skipped although it fit`).toEqual([]);
          continue;
        }
        const a = agents.find((x) => x.id === chosen)!;
        expect(a.queues).toContain(byId.get(j.id)!.queue);
        const most = Math.max(...fits.map((f) => free.get(f.id)!));
        expect(free.get(chosen)).toBe(most);
        free.set(chosen, free.get(chosen)! - j.resources.slots);
        expect(free.get(chosen)).toBeGreaterThanOrEqual(0);
      }
    }
  });
});
