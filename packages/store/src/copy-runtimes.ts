import type { Store } from './contract.js';
import type { RuntimeSample } from './runtime-samples.js';

/**
 * Copies the runtime history (learned estimates) from one store to another, a page of classes
 * at a time, each class's runtimes in their order. A class the target has samples of already is
 * left as it is: a copy run again (resumed) must not record the same runtimes twice, and what
 * the target learned itself is newer. Answers how many classes it copied.
 */
export async function copyRuntimes(from: Store, to: Store, pageSize: number): Promise<number> {
  let copied = 0;
  let after: string | null = null;
  for (;;) {
    const page: string[] = await from.runtimeClasses(after, pageSize);
    if (page.length === 0) return copied;
    const [source, present] = await Promise.all([from.runtimeSamples(page), to.runtimeSamples(page)]);
    const samples: RuntimeSample[] = [];
    for (const key of page) {
      const newestFirst = source.get(key);
      if (!newestFirst || present.has(key)) continue;
      // Oldest first: the last recorded is a class's newest.
      for (let i = newestFirst.length - 1; i >= 0; i--) samples.push({ key, runtimeMs: newestFirst[i]! });
      copied++;
    }
    if (samples.length > 0) await to.recordRuntimes(samples);
    if (page.length < pageSize) return copied;
    after = page[page.length - 1]!;
  }
}
