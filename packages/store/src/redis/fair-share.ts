import type { LeaseRef, TransitionResult } from '@baton/core';
import { ValidationError } from '@baton/core';
import type { OwnerLoad, OwnerUsageUnits } from '../fair-share.js';
import { USAGE_FLOOR, checkHalfLife, decayed, usageToAdd } from '../rules/usage-decay.js';
import { transitionResult } from './codes.js';
import type { RedisContext } from './context.js';
import { callScript } from './scripts.js';
import { OWNER_GPUS, OWNER_LEASED, OWNER_UNITS } from './keys.js';

/**
 * Fair share and preemption in Redis. Owner loads are read from the owners' counts that every
 * job transition script keeps (scripts/lib/owners.lua), for the owners in `{p}:leasedowners`
 * only; decayed usage is one hash, `{p}:usage`, added to by add-usage.lua (decay and add in one
 * atomic step per owner); preempt.lua gives leases back without spending the attempt.
 */

/** Owners added to per add-usage call at most, so one call never holds the server long. */
const USAGE_BATCH = 500;

export async function ownerLoads(ctx: RedisContext): Promise<OwnerLoad[]> {
  const k = ctx.keys;
  const owners = await ctx.client.smembers(k.leasedOwners);
  if (owners.length === 0) return [];
  const counts = (await ctx.batch((p) => {
    for (const owner of owners) p.hmget(k.owner(owner), OWNER_LEASED, OWNER_GPUS, OWNER_UNITS);
  })) as (string | null)[][];
  const loads: OwnerLoad[] = [];
  owners.forEach((owner, i) => {
    const [leased, gpus, units] = counts[i]!;
    // The set and the hash change in the same script; a read between two pipelined calls may
    // still meet an owner whose last lease just ended.
    if (Number(leased ?? 0) <= 0) return;
    loads.push({ owner, leasedJobs: Number(leased), leasedGpus: Number(gpus ?? 0), leasedUnits: Number(units ?? 0) });
  });
  return loads;
}

export async function addUsage(ctx: RedisContext, entries: OwnerUsageUnits[], halfLifeMs: number): Promise<void> {
  const byOwner = [...usageToAdd(entries, halfLifeMs)];
  if (byOwner.length === 0) return;
  const now = ctx.clock();
  await ctx.batch((p) => {
    for (let from = 0; from < byOwner.length; from += USAGE_BATCH) {
      const args = byOwner.slice(from, from + USAGE_BATCH).flatMap(([owner, units]) => [owner, String(units)]);
      callScript(p, 'add-usage', [ctx.keys.usage], [now, halfLifeMs, ...args]);
    }
  });
}

export async function usage(ctx: RedisContext, halfLifeMs: number): Promise<OwnerUsageUnits[]> {
  checkHalfLife(halfLifeMs);
  const stored = await ctx.client.hgetall(ctx.keys.usage);
  const now = ctx.clock();
  const out: OwnerUsageUnits[] = [];
  for (const [owner, value] of Object.entries(stored)) {
    const [units, at] = value.split(' ').map(Number);
    const current = decayed(units!, at!, now, halfLifeMs);
    if (current >= USAGE_FLOOR) out.push({ owner, units: current });
  }
  return out;
}

export async function preempt(
  ctx: RedisContext,
  items: (LeaseRef & { message: string })[],
): Promise<TransitionResult[]> {
  for (const item of items) {
    if (typeof item.message !== 'string') throw new ValidationError(`preempting job ${item.jobId} needs a message`);
  }
  const now = ctx.clock();
  const replies = await ctx.batchScript(items, 'preempt', ctx.keys.jobIndexes, [now], (item, _, args) => {
    args.push(
      item.jobId,
      item.leaseToken,
      JSON.stringify({ code: 'PREEMPTED', message: item.message, retryable: true }),
    );
  });
  const queues = new Set<string>();
  const results = items.map((item, i) => {
    const result = transitionResult(item.jobId, Number(replies[i * 3]), String(replies[i * 3 + 1]));
    if (result.ok) queues.add(String(replies[i * 3 + 2]));
    return result;
  });
  if (queues.size > 0) ctx.emit({ type: 'enqueued', queues: [...queues] });
  return results;
}
