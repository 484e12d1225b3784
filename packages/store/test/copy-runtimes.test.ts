import { describe, expect, it } from 'vitest';
import { RUNTIME_SAMPLES_KEPT } from '@baton/core';
import { copyJobs, openStore } from '@baton/store';

describe('copying runtime history', () => {
  it('copies every class in order, page by page, and keeps what the target has', async () => {
    const from = await openStore('sqlite::memory:');
    const to = await openStore('sqlite::memory:');
    try {
      const keys = Array.from({ length: 5 }, (_, i) => `ann task${i} 1/0/0/0`);
      for (const key of keys) {
        await from.recordRuntimes(Array.from({ length: RUNTIME_SAMPLES_KEPT }, (_, i) => ({ key, runtimeMs: i })));
      }
      await to.recordRuntimes([{ key: keys[0]!, runtimeMs: 999 }]);
      // Pages of two classes: the last page is short.
      const result = await copyJobs(from, to, { batch: 2 });
      expect(result.runtimeClasses).toBe(4);
      const copied = await to.runtimeSamples(keys);
      expect(copied.get(keys[0]!)).toEqual([999]);
      for (const key of keys.slice(1)) expect(copied.get(key)).toEqual((await from.runtimeSamples([key])).get(key));
      // Run again (a resumed copy): nothing is recorded twice.
      expect((await copyJobs(from, to, { batch: 2 })).runtimeClasses).toBe(0);
      expect((await to.runtimeSamples([keys[1]!])).get(keys[1]!)).toHaveLength(RUNTIME_SAMPLES_KEPT);
    } finally {
      await from.close();
      await to.close();
    }
  });
});
