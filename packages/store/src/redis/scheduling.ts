import type { JobAssignment, PendingJob, Placement } from '@baton/core';
import { ValidationError, newLeaseToken, priorityRank } from '@baton/core';
import type { PendingRequest } from '../contract.js';
import { askedPending } from '../rules/scheduling-rules.js';
import type { RedisContext } from './context.js';
import { PENDING_FIELDS, assignedOf, pendingOf, queuedMember } from './job-hash.js';
import { emitWorkflowEvents, eventLists } from './workflow-events.js';
import { callScript } from './scripts.js';

/**
 * Scheduling in Redis: due delayed jobs (promote.lua), queue heads, whole or each owner's
 * (pending.lua, read-only), assignment (assign.lua) and expired leases (expire.lua).
 */

/** Jobs one promoteDue or expireLeases call moves at most (the caller sweeps again). */
const SWEEP_BATCH = 1000;

/** The ids a sweep may move: due by `now`, at most a batch. */
async function due(ctx: RedisContext, index: string, now: number): Promise<string[]> {
  return ctx.client.zrangebyscore(index, '-inf', now, 'LIMIT', 0, SWEEP_BATCH);
}

/** The earliest time in a sweep's index, null when it is empty. */
async function earliest(ctx: RedisContext, index: string): Promise<number | null> {
  const [, score] = await ctx.client.zrange(index, '0', '0', 'WITHSCORES');
  return score === undefined ? null : Number(score);
}

export async function promoteDue(ctx: RedisContext): Promise<{ promoted: number; nextRunAt: number | null }> {
  const now = ctx.clock();
  const ids = await due(ctx, ctx.keys.delayed, now);
  const replies = await ctx.batchScript(ids, 'promote', ctx.keys.jobIndexes, [now], (id, _, args) => {
    args.push(id);
  });
  const promoted = replies.filter((r) => Number(r) === 1).length;
  const nextRunAt = await earliest(ctx, ctx.keys.delayed);
  // Other schedulers sharing the store learn of the new work too.
  if (promoted > 0) ctx.emit({ type: 'changed' });
  return { promoted, nextRunAt };
}

export async function pending(ctx: RedisContext, requests: PendingRequest[]): Promise<PendingJob[]> {
  for (const r of requests) {
    if (r.perOwner && r.after)
      throw new ValidationError(`pending of queue ${r.queue}: perOwner cannot page with after`);
  }
  const asked = askedPending(requests);
  if (asked.length === 0) return [];
  const values = (await callScript(
    ctx.client,
    'pending',
    [ctx.keys.queued],
    [
      PENDING_FIELDS.length,
      ...PENDING_FIELDS,
      ...asked.flatMap(({ queue, limit, after, perOwner }) => [
        queue,
        limit,
        after ? queuedMember(queue, priorityRank(after.priority), after.priorityLevel, after.id) : '',
        perOwner ? '1' : '',
      ]),
    ],
  )) as (string | null)[];
  const width = PENDING_FIELDS.length;
  const out: PendingJob[] = [];
  for (let at = 0; at < values.length; at += width) {
    const job = pendingOf(values.slice(at, at + width));
    if (job) out.push(job);
  }
  return out;
}

export async function assign(ctx: RedisContext, placements: Placement[], leaseMs: number): Promise<JobAssignment[]> {
  const now = ctx.clock();
  const tokens = placements.map(() => newLeaseToken());
  const replies = (await ctx.batchScript(
    placements,
    'assign',
    [...ctx.keys.jobIndexes, ctx.keys.quotas],
    [now, now + leaseMs],
    (pl, i, args) => {
      args.push(pl.jobId, pl.agentId, tokens[i]!, JSON.stringify(pl.gpus));
    },
  )) as string[][];
  const out: JobAssignment[] = [];
  replies.forEach((r, j) => {
    if (Number(r[0]) !== 1) return;
    const pl = placements[j]!;
    out.push({ job: assignedOf(pl.jobId, pl.agentId, [...pl.gpus], r), leaseToken: tokens[j]! });
  });
  return out;
}

export async function expireLeases(
  ctx: RedisContext,
): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> {
  const now = ctx.clock();
  const ids = await due(ctx, ctx.keys.leased, now);
  const replies = await ctx.batchScript(ids, 'expire', ctx.keys.jobIndexes, [now], (id, _, args) => {
    args.push(id);
  });
  // Two values per id: the outcome, then a workflow step's events (workflow-events.ts).
  const requeued = ids.filter((_, i) => Number(replies[2 * i]) === 1);
  const failed = ids.filter((_, i) => Number(replies[2 * i]) === 2);
  emitWorkflowEvents(ctx, eventLists(replies, 2, 1));
  const nextExpiryAt = await earliest(ctx, ctx.keys.leased);
  if (requeued.length > 0 || failed.length > 0) ctx.emit({ type: 'changed' });
  return { requeued, failed, nextExpiryAt };
}
