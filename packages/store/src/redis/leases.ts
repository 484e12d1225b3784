import type { Completion, JobError, LeaseRef, TransitionResult } from '@baton/core';
import { MAX_RETRY_DELAY_MS } from '@baton/core';
import { checkReleaseItems } from '../rules/lease-rules.js';
import { transitionResult } from './codes.js';
import type { RedisContext } from './context.js';
import { emitWorkflowEvents, eventLists } from './workflow-events.js';

/**
 * Lease-checked transitions in Redis: start, heartbeat, complete and release, each one batch
 * script (start.lua, heartbeat.lua, complete.lua, release.lua) that checks the lease and
 * applies the change atomically per job.
 */

/** Transition results from a flat reply of `width` values per item: status, state, … */
function transitionResults(items: readonly LeaseRef[], replies: unknown[], width = 2): TransitionResult[] {
  return items.map((item, i) =>
    transitionResult(item.jobId, Number(replies[i * width]), String(replies[i * width + 1])),
  );
}

export async function start(ctx: RedisContext, items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]> {
  const now = ctx.clock();
  const replies = await ctx.batchScript(items, 'start', ctx.keys.jobIndexes, [now, now + leaseMs], (item, _, args) => {
    args.push(item.jobId, item.leaseToken);
  });
  return transitionResults(items, replies);
}

export async function heartbeat(
  ctx: RedisContext,
  items: (LeaseRef & { progress?: number })[],
  leaseMs: number,
): Promise<TransitionResult[]> {
  const now = ctx.clock();
  const replies = await ctx.batchScript(
    items,
    'heartbeat',
    ctx.keys.jobIndexes,
    [now, now + leaseMs],
    (item, _, args) => {
      args.push(item.jobId, item.leaseToken, item.progress === undefined ? '' : String(item.progress));
    },
  );
  return transitionResults(items, replies);
}

export async function complete(ctx: RedisContext, items: Completion[]): Promise<TransitionResult[]> {
  const now = ctx.clock();
  const replies = await ctx.batchScript(
    items,
    'complete',
    ctx.keys.jobIndexes,
    [now, MAX_RETRY_DELAY_MS],
    (item, _, args) => {
      args.push(
        item.jobId,
        item.leaseToken,
        item.outcome,
        item.outcome === 'succeeded' ? JSON.stringify(item.result ?? null) : JSON.stringify(item.error),
        item.outcome === 'failed' && item.error.retryable ? '1' : '0',
        item.startedAt === undefined ? '' : String(item.startedAt),
        String(ctx.random()),
      );
    },
  );
  // Four values per item: status, state, run_at, a workflow step's events (workflow-events.ts).
  const results = transitionResults(items, replies, 4);
  let dueAt = Infinity;
  for (let i = 0; i < items.length; i++) {
    const runAt = replies[i * 4 + 2];
    if (runAt !== undefined && runAt !== null && runAt !== '') dueAt = Math.min(dueAt, Number(runAt));
  }
  if (results.some((r) => r.ok)) ctx.emit({ type: 'changed', ...(dueAt < Infinity && { dueAt }) });
  emitWorkflowEvents(ctx, eventLists(replies, 4, 3));
  return results;
}

export async function release(
  ctx: RedisContext,
  items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[],
): Promise<TransitionResult[]> {
  checkReleaseItems(items);
  const now = ctx.clock();
  const replies = await ctx.batchScript(items, 'release', ctx.keys.jobIndexes, [now], (item, _, args) => {
    args.push(item.jobId, item.leaseToken, JSON.stringify(item.error), item.leaseExpiresBy ?? '');
  });
  const results = transitionResults(items, replies, 3);
  if (results.some((r) => r.ok)) ctx.emit({ type: 'changed' });
  emitWorkflowEvents(ctx, eventLists(replies, 3, 2));
  return results;
}
