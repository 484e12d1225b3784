// Retention for the Redis store: deleteFinished.
import { retentionArgs } from '../rules/retention-rules.js';
import type { FinalJobState } from '../contract.js';
import type { RedisContext } from './context.js';

/** Candidates read per round. */
const DELETE_BATCH = 1000;

/** What retention (and log appends) use of the store's context: one script call per job, in one pipeline. */
export type RetentionContext = Pick<RedisContext, 'client' | 'keys' | 'perJob'>;

/**
 * Reads the oldest candidates from `{p}:finished`, then deletes each with one script call that
 * checks again (one pipeline per round), until `limit` are gone or none is left before the
 * cut-off. Each job goes atomically; a batch is not one transaction. With `state`, jobs of the
 * other final states stay in the index and the next read starts after them.
 */
export async function deleteFinished(
  ctx: RetentionContext,
  finishedBefore: number,
  limit: number,
  state?: FinalJobState,
): Promise<{ deleted: number }> {
  const { before, limit: max, state: only } = retentionArgs(finishedBefore, limit, state);
  const k = ctx.keys;
  let deleted = 0;
  // Entries before the cut-off kept for being in another state: the next read skips them.
  let kept = 0;
  while (deleted < max) {
    const asked = Math.min(max - deleted, DELETE_BATCH);
    const ids = await ctx.client.zrangebyscore(k.finished, '-inf', `(${before}`, 'LIMIT', kept, asked);
    const replies = await ctx.perJob(ids, 'delete-finished', (id) => ({
      keys: [
        k.job(id),
        k.attempts(id),
        k.logs(id),
        k.logTail(id),
        k.finished,
        k.counts,
        k.byState,
        k.byQueueState,
        k.byQueue,
        k.byOwner,
        k.all,
        k.idempotency,
        k.queues,
      ],
      args: [id, before, only ?? ''],
    }));
    deleted += replies.filter((r) => Number(r) === 1).length;
    kept += replies.filter((r) => Number(r) === 2).length;
    // Every id read was deleted, or dropped from (or moved up in) the index: the next read moves on.
    if (ids.length < asked) break;
  }
  return { deleted };
}
