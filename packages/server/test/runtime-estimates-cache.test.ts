import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { PendingJob } from '@baton/core';
import { DEFAULT_RESOURCES, runtimeClassKey } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { RuntimeEstimates } from '../src/estimates/runtime-estimates.js';

const logger = pino({ level: 'silent' });

function pendingJob(id: string, task: string, timeLimitMs: number | null = null): PendingJob {
  return {
    id,
    queue: 'q',
    task,
    owner: 'ann',
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    avoidAgentId: null,
    timeLimitMs,
  };
}

const keyOf = (task: string) => runtimeClassKey('ann', task, DEFAULT_RESOURCES);

describe('the scheduler’s cache of learned runtimes', () => {
  let store: Store;
  let reads: string[][];
  let counted: Store;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    reads = [];
    // The real store, its reads of runtime samples counted.
    counted = new Proxy(store, {
      get: (target, property) =>
        property === 'runtimeSamples'
          ? (keys: string[]) => {
              reads.push([...keys]);
              return target.runtimeSamples(keys);
            }
          : Reflect.get(target, property),
    });
  });
  afterEach(() => store.close());

  it('never waits on the store: a class is read in the background, at most one call per refresh', async () => {
    await store.recordRuntimes([100, 200, 300].map((runtimeMs) => ({ key: keyOf('train'), runtimeMs })));
    const estimates = new RuntimeEstimates(counted, { logger, refreshMs: 60_000 });
    const first = [pendingJob('a', 'train'), pendingJob('b', 'eval'), pendingJob('c', 'train', 5)];
    const estimated = new Map<string, number>();
    estimates.fill(first, estimated);
    // Not known yet: the pass plans without, and one read is under way for both classes.
    expect(first.map((j) => j.timeLimitMs)).toEqual([null, null, 5]);
    expect(reads).toEqual([[keyOf('train'), keyOf('eval')]]);
    await vi.waitFor(() => {
      const next = [pendingJob('d', 'train'), pendingJob('e', 'eval')];
      estimates.fill(next, estimated);
      expect(next.map((j) => j.timeLimitMs)).toEqual([300, null]);
    });
    expect(estimated).toEqual(new Map([['d', 300]]));
    // Within the refresh interval, no class is read again, a new one neither.
    estimates.fill([pendingJob('f', 'other')], estimated);
    expect(reads).toHaveLength(1);
  });

  it('reads stale classes again, and keeps at most maxClasses', async () => {
    const estimates = new RuntimeEstimates(counted, { logger, refreshMs: 10, maxClasses: 2 });
    const fillAndSettle = async (tasks: string[]) => {
      const before = reads.length;
      estimates.fill(
        tasks.map((t, i) => pendingJob(`${t}-${i}`, t)),
        new Map(),
      );
      await vi.waitFor(() => expect(reads.length).toBe(before + 1));
      await new Promise((r) => setTimeout(r, 15));
    };
    await fillAndSettle(['a', 'b']);
    await store.recordRuntimes([1, 2, 3].map((runtimeMs) => ({ key: keyOf('a'), runtimeMs })));
    // Stale after 10 ms: read again, and the estimate is learned.
    await fillAndSettle(['a']);
    const job = pendingJob('x', 'a');
    estimates.fill([job], new Map());
    expect(job.timeLimitMs).toBe(3);
    // That fill found `a` stale again and read it; the next read is 10 ms on.
    await vi.waitFor(() => expect(reads).toHaveLength(3));
    await new Promise((r) => setTimeout(r, 15));
    // A third class pushes out the stalest (b): the cache holds two.
    await fillAndSettle(['c']);
    expect(reads.at(-1)).toEqual([keyOf('c')]);
    expect((estimates as unknown as { cache: Map<string, unknown> }).cache.size).toBe(2);
  });
});
