import type { FinalJobState } from '../contract.js';
import { retentionArgs } from '../rules/retention-rules.js';
import type { PostgresContext } from './context.js';
import * as jobsSql from './sql/jobs.js';

/**
 * Retention in PostgreSQL: deleteFinished, one statement over the index of final plain jobs
 * by finish time (migration 8, which left workflow steps out of migration 2's), oldest first.
 */
export async function deleteFinished(
  ctx: PostgresContext,
  finishedBefore: number,
  limit: number,
  state?: FinalJobState,
): Promise<{ deleted: number }> {
  const { before, limit: max, state: only } = retentionArgs(finishedBefore, limit, state);
  if (max === 0) return { deleted: 0 };
  const [row] = only
    ? await ctx.run<{ deleted: number }>(jobsSql.deleteFinishedInState, [before, max, only])
    : await ctx.run<{ deleted: number }>(jobsSql.deleteFinished, [before, max]);
  return { deleted: row?.deleted ?? 0 };
}
