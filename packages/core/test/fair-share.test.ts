import { describe, expect, it } from 'vitest';
import type { PendingJob } from '@baton/core';
import { fairOrder, unitsOf } from '@baton/core';
import { gpuJob, job } from './placement-fixtures.js';

const none = { usage: new Map(), leasedUnits: new Map(), weights: new Map() };
const pad = (n: number) => String(n).padStart(6, '0');
/** Jobs of one owner with ids in submission order after `from`. */
const jobsOf = (owner: string, n: number, from: number, init: Parameters<typeof job>[1] = {}): PendingJob[] =>
  Array.from({ length: n }, (_, i) => job(`${pad(from + i)}-${owner}`, { ...init, owner }));
const owners = (jobs: readonly PendingJob[]) => jobs.map((j) => j.owner);

/** A seeded generator (mulberry32), so a failing case can be replayed. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fairOrder', () => {
  it('puts all 10 jobs of a user who came after a 10 000-job backlog within the first 20', () => {
    const pending = [...jobsOf('a', 10_000, 0), ...jobsOf('b', 10, 10_000)];
    const { ordered } = fairOrder(pending, none);
    expect(ordered).toHaveLength(10_010);
    expect(owners(ordered.slice(0, 20)).filter((o) => o === 'b')).toHaveLength(10);
  });

  it('keeps each owner’s own order: level, then age', () => {
    const pending = [
      job('1', { owner: 'a' }),
      job('2', { owner: 'a', priorityLevel: 5 }),
      job('3', { owner: 'b' }),
      job('4', { owner: 'a' }),
    ];
    const { ordered } = fairOrder(pending, none);
    expect(ordered.filter((j) => j.owner === 'a').map((j) => j.id)).toEqual(['2', '1', '4']);
  });

  it('gives owners shares by weight', () => {
    const pending = [...jobsOf('a', 300, 0), ...jobsOf('b', 300, 300)];
    const { ordered } = fairOrder(pending, { ...none, weights: new Map([['a', 2]]) });
    const first = owners(ordered.slice(0, 300));
    expect(first.filter((o) => o === 'a')).toHaveLength(200);
  });

  it('puts an owner who used the fleet lately, or holds it now, behind one who did not', () => {
    const pending = [...jobsOf('a', 10, 0), ...jobsOf('b', 10, 10)];
    // Usage worth five jobs: five units held over the decay's mean lifetime (half-life / ln 2).
    const TAU = 3600 / Math.LN2;
    const used = fairOrder(pending, { ...none, usage: new Map([['a', 5 * TAU]]) }).ordered;
    expect(owners(used.slice(0, 5))).toEqual(['b', 'b', 'b', 'b', 'b']);
    expect(owners(used.slice(5, 7)).sort()).toEqual(['a', 'b']);
    const holding = fairOrder(pending, { ...none, leasedUnits: new Map([['a', 3]]) }).ordered;
    expect(owners(holding.slice(0, 3))).toEqual(['b', 'b', 'b']);
  });

  it('charges GPU jobs by their GPUs', () => {
    const pending = [
      ...Array.from({ length: 5 }, (_, i) => gpuJob(`${pad(i)}-a`, 4, { owner: 'a' })),
      ...Array.from({ length: 20 }, (_, i) => gpuJob(`${pad(100 + i)}-b`, 1, { owner: 'b' })),
    ];
    const { ordered } = fairOrder(pending, none);
    // One 4-GPU job of a's is worth four of b's 1-GPU jobs.
    expect(owners(ordered.slice(0, 10))).toEqual(['a', 'b', 'b', 'b', 'b', 'a', 'b', 'b', 'b', 'b']);
  });

  it('orders by priority class first: fair share only orders owners inside a class', () => {
    const pending = [
      ...jobsOf('a', 3, 0, { priority: 'low' }),
      ...jobsOf('b', 3, 3, { priority: 'high' }),
      ...jobsOf('a', 3, 6, { priority: 'high' }),
    ];
    const { ordered } = fairOrder(pending, { ...none, usage: new Map([['a', 1e9]]) });
    expect(ordered.slice(0, 6).every((j) => j.priority === 'high')).toBe(true);
    expect(ordered.slice(6).every((j) => j.priority === 'low')).toBe(true);
  });

  it('tells each job its share and its position in its queue', () => {
    const pending = [...jobsOf('a', 2, 0), ...jobsOf('b', 2, 2), job('000009-c', { owner: 'c', queue: 'other' })];
    const { positions } = fairOrder(pending, { ...none, weights: new Map([['a', 3]]) });
    expect(positions.get('000000-a')).toEqual({ owner: 'a', share: 3 / 4, position: 1 });
    // c waits alone in its queue: all of it is theirs.
    expect(positions.get('000009-c')).toEqual({ owner: 'c', share: 1, position: 1 });
  });

  it('keeps every prefix within one job of even, for random owners and sizes (equal weights, no history)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = rng(seed);
      const ownerCount = 2 + Math.floor(random() * 5);
      const pending: PendingJob[] = [];
      for (let i = 0; i < 400; i++) {
        const owner = `u${Math.floor(random() * ownerCount)}`;
        const gpus = random() < 0.5 ? 0 : 1 + Math.floor(random() * 4);
        pending.push(gpuJob(`${pad(i)}`, gpus, { owner, resources: { slots: 1 + Math.floor(random() * 2) } }));
      }
      const left = new Map<string, number>();
      for (const j of pending) left.set(j.owner!, (left.get(j.owner!) ?? 0) + 1);
      const used = new Map<string, number>();
      const largest = Math.max(...pending.map(unitsOf));
      for (const j of fairOrder(pending, none).ordered) {
        used.set(j.owner!, (used.get(j.owner!) ?? 0) + unitsOf(j));
        left.set(j.owner!, left.get(j.owner!)! - 1);
        // Among owners that still have jobs waiting, nobody is ahead of another by more than a job.
        const waiting = [...left].filter(([, n]) => n > 0).map(([o]) => used.get(o) ?? 0);
        const ahead = used.get(j.owner!)!;
        for (const other of waiting) expect(ahead - other, `seed ${seed}`).toBeLessThanOrEqual(largest);
      }
    }
  });
});
