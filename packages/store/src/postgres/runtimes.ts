import { RUNTIME_SAMPLES_KEPT } from '@baton/core';
import type { RuntimeSamples } from '../runtime-samples.js';
import { MAX_RUNTIME_KEYS_READ } from '../runtime-samples.js';
import { checkRuntimeClassPage, keptRuntimes, runtimeKeysToRead, runtimesToRecord } from '../rules/runtime-rules.js';
import type { PostgresContext } from './context.js';
import * as sql from './sql/runtimes.js';

/** Runtime history in PostgreSQL: a batch is one upsert (sql/runtimes.ts), a read one query. */
export function postgresRuntimes(ctx: PostgresContext): RuntimeSamples {
  return {
    async recordRuntimes(samples) {
      const byKey = runtimesToRecord(samples);
      if (byKey.size === 0) return;
      const keys = [...byKey.keys()];
      const lists = keys.map((k) => JSON.stringify(byKey.get(k)));
      await ctx.run(sql.recordRuntimes, [keys, lists, ctx.clock(), RUNTIME_SAMPLES_KEPT]);
    },
    async runtimeSamples(keys) {
      const wanted = runtimeKeysToRead(keys);
      const out = new Map<string, number[]>();
      if (wanted.length === 0) return out;
      const rows = await ctx.run<{ key: string; samples: (string | number)[] }>(sql.runtimeSamples, [wanted]);
      // Order of the keys asked for, as the other backends answer.
      const byKey = new Map(rows.map((r) => [r.key, r.samples]));
      for (const key of wanted) {
        const samples = byKey.get(key);
        if (samples && samples.length > 0) out.set(key, keptRuntimes(samples));
      }
      return out;
    },
    async runtimeClasses(after, limit) {
      checkRuntimeClassPage(after, limit);
      const rows = await ctx.run<{ key: string }>(sql.runtimeClasses, [after, Math.min(limit, MAX_RUNTIME_KEYS_READ)]);
      return rows.map((r) => r.key);
    },
  };
}
