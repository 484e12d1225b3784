import { RUNTIME_SAMPLES_KEPT } from '@baton/core';
import type { RuntimeSamples } from '../runtime-samples.js';
import { MAX_RUNTIME_KEYS_READ } from '../runtime-samples.js';
import { checkRuntimeClassPage, keptRuntimes, runtimeKeysToRead, runtimesToRecord } from '../rules/runtime-rules.js';
import type { RedisContext } from './context.js';
import { callScript } from './scripts.js';

/** Classes recorded per script call at most, so one call never holds the server long. */
const CLASSES_PER_CALL = 200;

/**
 * Runtime history in Redis: a list per class, `{p}:runtime:<class>`, newest first, pushed and cut
 * by scripts/record-runtimes.lua (one atomic step per call); the classes in a lex zset. Every key
 * carries the store's hash tag, so it works on Redis Cluster as the others do.
 */
export function redisRuntimes(ctx: RedisContext): RuntimeSamples {
  const k = ctx.keys;
  return {
    async recordRuntimes(samples) {
      const byKey = [...runtimesToRecord(samples)];
      if (byKey.length === 0) return;
      await ctx.batch((p) => {
        for (let from = 0; from < byKey.length; from += CLASSES_PER_CALL) {
          const chunk = byKey.slice(from, from + CLASSES_PER_CALL);
          const args: (string | number)[] = [RUNTIME_SAMPLES_KEPT];
          // Oldest first: each LPUSH leaves the last pushed at the head.
          for (const [key, newest] of chunk) args.push(key, newest.length, ...[...newest].reverse());
          callScript(p, 'record-runtimes', [k.runtimeClasses, ...chunk.map(([key]) => k.runtime(key))], args);
        }
      });
    },
    async runtimeSamples(keys) {
      const wanted = runtimeKeysToRead(keys);
      const out = new Map<string, number[]>();
      if (wanted.length === 0) return out;
      const lists = (await ctx.batch((p) => {
        for (const key of wanted) p.lrange(k.runtime(key), 0, RUNTIME_SAMPLES_KEPT - 1);
      })) as string[][];
      wanted.forEach((key, i) => {
        const list = lists[i]!;
        if (list.length > 0) out.set(key, keptRuntimes(list));
      });
      return out;
    },
    async runtimeClasses(after, limit) {
      checkRuntimeClassPage(after, limit);
      const n = Math.min(limit, MAX_RUNTIME_KEYS_READ);
      return ctx.client.zrangebylex(k.runtimeClasses, after === null ? '-' : `(${after}`, '+', 'LIMIT', 0, n);
    },
  };
}
