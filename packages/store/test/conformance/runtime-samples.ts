import { describe, expect, it } from 'vitest';
import { RUNTIME_KEY_MAX_LENGTH, RUNTIME_SAMPLES_KEPT, ValidationError, runtimeClassKey } from '@baton/core';
import type { Store } from '@baton/store';
import { MAX_RUNTIME_KEYS_READ } from '@baton/store';
import type { Fixture } from './fixture.js';
import { rejection } from './fixture.js';

const shape = { slots: 1, cpu: 0.5, memoryMb: 2048, gpus: 8 };

/** Records `values` one call each, in order. */
async function oneByOne(store: Store, key: string, values: number[]): Promise<void> {
  for (const runtimeMs of values) await store.recordRuntimes([{ key, runtimeMs }]);
}

/** Issue 12: each runtime class's newest runtimes, shared by every server of the store. */
export function runtimeSampleTests(f: () => Fixture): void {
  describe('runtime samples', () => {
    it('keeps each class newest first; unknown classes are absent', async () => {
      const x = f();
      const train = runtimeClassKey(x.owner, 'train', shape);
      const evaluate = runtimeClassKey(x.owner, 'eval.é', shape);
      await x.store.recordRuntimes([
        { key: train, runtimeMs: 100 },
        { key: evaluate, runtimeMs: 7 },
        { key: train, runtimeMs: 200 },
      ]);
      await x.store.recordRuntimes([{ key: train, runtimeMs: 300.4 }]);
      await x.store.recordRuntimes([]);
      const read = await x.store.runtimeSamples([train, evaluate, 'nobody ran this 1/0/0/0', train]);
      expect(read).toEqual(
        new Map([
          [train, [300, 200, 100]],
          [evaluate, [7]],
        ]),
      );
      expect(await x.store.runtimeSamples([])).toEqual(new Map());
    });

    it(`keeps the newest ${RUNTIME_SAMPLES_KEPT} of a class, across calls and within one`, async () => {
      const x = f();
      const key = runtimeClassKey(x.owner, 'capped', shape);
      const first = Array.from({ length: 20 }, (_, i) => i);
      await x.store.recordRuntimes(first.map((runtimeMs) => ({ key, runtimeMs })));
      const second = Array.from({ length: 20 }, (_, i) => 100 + i);
      await x.store.recordRuntimes(second.map((runtimeMs) => ({ key, runtimeMs })));
      const expected = [...first, ...second].reverse().slice(0, RUNTIME_SAMPLES_KEPT);
      expect((await x.store.runtimeSamples([key])).get(key)).toEqual(expected);
      // One batch longer than the cap keeps its newest.
      const long = Array.from({ length: RUNTIME_SAMPLES_KEPT + 10 }, (_, i) => 1000 + i);
      await x.store.recordRuntimes(long.map((runtimeMs) => ({ key, runtimeMs })));
      expect((await x.store.runtimeSamples([key])).get(key)).toEqual(long.reverse().slice(0, RUNTIME_SAMPLES_KEPT));
    });

    it('loses nothing but what falls past the cap under concurrent writers', async () => {
      const x = f();
      const key = runtimeClassKey(x.owner, 'contended', shape);
      // Writers on two stores where the backend shares data between them (each in-memory SQLite
      // store has its own: there, all write through the fixture's store).
      const other = await x.openWith({});
      await x.store.recordRuntimes([{ key: `${key} probe`, runtimeMs: 1 }]);
      const shared = (await other.runtimeSamples([`${key} probe`])).size === 1;
      const writers = 4;
      const each = RUNTIME_SAMPLES_KEPT / writers;
      const round = (base: number) =>
        Promise.all(
          Array.from({ length: writers }, (_, w) =>
            oneByOne(
              shared && w % 2 === 1 ? other : x.store,
              key,
              Array.from({ length: each }, (_, i) => base + w * 100 + i),
            ),
          ),
        );
      await round(0);
      const kept = (await x.store.runtimeSamples([key])).get(key)!;
      expect([...kept].sort((a, b) => a - b)).toEqual(
        Array.from({ length: writers }, (_, w) => Array.from({ length: each }, (_, i) => w * 100 + i)).flat(),
      );
      // Each writer's samples stay in its order, newest first.
      for (let w = 0; w < writers; w++) {
        const mine = kept.filter((ms) => Math.floor(ms / 100) === w);
        expect(mine).toEqual([...mine].sort((a, b) => b - a));
      }
      // A second round, all after the first: exactly its samples are kept, none lost, none twice.
      await round(10_000);
      const after = (await x.store.runtimeSamples([key])).get(key)!;
      expect([...after].sort((a, b) => a - b)).toEqual(
        Array.from({ length: writers }, (_, w) => Array.from({ length: each }, (_, i) => 10_000 + w * 100 + i)).flat(),
      );
    });

    it('refuses a bad key or runtime and records nothing of the batch', async () => {
      const x = f();
      const key = runtimeClassKey(x.owner, 'checked', shape);
      const bad: [string, number][] = [
        ['', 1],
        ['x'.repeat(RUNTIME_KEY_MAX_LENGTH + 1), 1],
        ['nul\u0000key', 1],
        [key, -1],
        [key, Number.NaN],
        [key, Infinity],
      ];
      for (const [badKey, runtimeMs] of bad) {
        const err = await rejection(
          x.store.recordRuntimes([
            { key, runtimeMs: 5 },
            { key: badKey, runtimeMs },
          ]),
        );
        expect(err).toBeInstanceOf(ValidationError);
      }
      expect(await x.store.runtimeSamples([key])).toEqual(new Map());
      // The longest key is fine.
      const longest = 'k'.repeat(RUNTIME_KEY_MAX_LENGTH);
      await x.store.recordRuntimes([{ key: longest, runtimeMs: 0 }]);
      expect((await x.store.runtimeSamples([longest])).get(longest)).toEqual([0]);
      expect(await rejection(x.store.runtimeSamples(['a\u0000b']))).toBeInstanceOf(ValidationError);
      const tooMany = Array.from({ length: MAX_RUNTIME_KEYS_READ + 1 }, (_, i) => `k${i}`);
      expect(await rejection(x.store.runtimeSamples(tooMany))).toBeInstanceOf(ValidationError);
    });

    it('pages through the classes by key', async () => {
      const x = f();
      const keys = ['c 1/0/0/0', 'a 1/0/0/0', 'b 1/0/0/0', 'b 2/0/0/0'].map((k) => `${x.owner} ${k}`);
      await x.store.recordRuntimes(keys.map((key) => ({ key, runtimeMs: 1 })));
      const sorted = [...keys].sort();
      expect(await x.store.runtimeClasses(null, 3)).toEqual(sorted.slice(0, 3));
      expect(await x.store.runtimeClasses(sorted[2]!, 3)).toEqual(sorted.slice(3));
      expect(await x.store.runtimeClasses(sorted[3]!, 3)).toEqual([]);
      expect(await rejection(x.store.runtimeClasses(null, 0))).toBeInstanceOf(ValidationError);
    });
  });
}
