import { SchemaTooNewError } from '@baton/core';
import type { RedisContext } from './context.js';
import { idOfMember } from './job-hash.js';
import { AFTER_SEP, SEP } from './keys.js';

/**
 * The key layout this code writes; a store marked with a newer one is refused. 2 added
 * `{p}:finished` (final jobs by finish time, for retention); a version 1 store is upgraded
 * at init by indexing its final jobs.
 */
export const SCHEMA_VERSION = 2;
const FINAL_STATES = ['succeeded', 'failed', 'cancelled'] as const;
/** Final jobs indexed per round trip when upgrading. */
const DELETE_BATCH = 1000;

/** Marks a new store with the layout, refuses a newer one, upgrades an older one. */
export async function openLayout(ctx: RedisContext): Promise<void> {
  await ctx.client.set(ctx.keys.schema, String(SCHEMA_VERSION), 'NX');
  const found = Number(await ctx.client.get(ctx.keys.schema));
  if (found > SCHEMA_VERSION) throw new SchemaTooNewError(found, SCHEMA_VERSION);
  if (found < 2) await indexFinished(ctx);
}

/**
 * Upgrades a version 1 store: puts its final jobs in `{p}:finished`, in pages (never one long
 * script), then marks the layout 2. Idempotent, so servers starting together may both run it.
 * Jobs that a version 1 server finishes after this are not indexed: upgrade every server.
 */
async function indexFinished(ctx: RedisContext): Promise<void> {
  const k = ctx.keys;
  for (const state of FINAL_STATES) {
    let min = `[${state}${SEP}`;
    const max = `(${state}${AFTER_SEP}`;
    for (;;) {
      const members = await ctx.client.zrangebylex(k.byState, min, max, 'LIMIT', 0, DELETE_BATCH);
      if (members.length === 0) break;
      const ids = members.map(idOfMember);
      const times = await ctx.batch((p) => {
        for (const id of ids) p.hget(k.job(id), 'finished_at');
      });
      const entries = ids.flatMap((id, i) => (times[i] == null ? [] : [String(times[i]), id]));
      if (entries.length > 0) await ctx.client.zadd(k.finished, ...entries);
      if (members.length < DELETE_BATCH) break;
      min = `(${members[members.length - 1]!}`;
    }
  }
  await ctx.client.set(k.schema, String(SCHEMA_VERSION));
}
