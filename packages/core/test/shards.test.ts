import { describe, expect, it } from 'vitest';
import { SHARD_COUNT, fnv1a, shardOfQueue, spreadShards } from '@baton/core';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `scheduler-${i}`);

describe('spreadShards', () => {
  it('gives every shard to exactly one live scheduler', () => {
    for (const n of [1, 2, 3, 5, 8]) {
      const spread = spreadShards(ids(n));
      const all = [...spread.values()].flat().sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: SHARD_COUNT }, (_, i) => i));
      expect(spread.size).toBe(n);
    }
  });

  it('keeps every scheduler within the load bound', () => {
    for (const n of [2, 3, 5, 7, 10]) {
      const bound = Math.ceil((1.25 * SHARD_COUNT) / n);
      for (const shards of spreadShards(ids(n)).values()) expect(shards.length).toBeLessThanOrEqual(bound);
    }
  });

  it('is the same whatever order the schedulers are listed in', () => {
    const a = spreadShards(['x', 'y', 'z']);
    const b = spreadShards(['z', 'x', 'y', 'x']);
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
  });

  it('moves few shards when a scheduler leaves: those of the one that left, and few others', () => {
    const before = spreadShards(ids(4));
    const after = spreadShards(ids(4).slice(0, 3));
    const gone = new Set(before.get('scheduler-3'));
    let moved = 0;
    for (const [s, shards] of after) {
      for (const shard of shards) if (!gone.has(shard) && !before.get(s)!.includes(shard)) moved++;
    }
    // Bounded loads may push a few shards on; most stay where they were.
    expect(moved).toBeLessThanOrEqual(SHARD_COUNT / 4);
  });

  it('has no owners without schedulers', () => {
    expect(spreadShards([]).size).toBe(0);
  });
});

describe('shardOfQueue', () => {
  it('is stable and within range', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    const s = shardOfQueue('default');
    expect(s).toBe(shardOfQueue('default'));
    expect(s).toBeGreaterThanOrEqual(0);
    expect(s).toBeLessThan(SHARD_COUNT);
  });
});
