import type { Completion, JobError, JobState, LeaseRef, TransitionResult } from '@baton/core';
import { earliestRetry } from '../rules/attempt-rules.js';
import { checkReleaseItems, refusalFor, refusalOfUnchanged } from '../rules/lease-rules.js';
import type { PostgresContext } from './context.js';
import type { SettleAction, SettleRow } from './settle.js';
import { completionDecision, decideBatch, releaseDecision, settleColumns } from './settle.js';
import { toJson } from './rows.js';
import * as leasesSql from './sql/leases.js';
import { noEvents, publishAdvance } from './workflow-advance.js';
import { rerunOnDeadlock } from './deadlocks.js';
import type { Settled } from './workflow-settle.js';
import { settleSteps } from './workflow-settle.js';

/**
 * Lease-checked transitions in PostgreSQL: start and heartbeat, one statement each for a
 * batch; complete and release, one transaction that locks, decides (settle.ts) and applies.
 */

/** A batch result of a lease-checked statement: the transition's new state, or the job as found. */
interface LeaseCheckedRow {
  ord: number;
  new_state: JobState | null;
  cur_state: JobState | null;
  cur_lease_token: string | null;
}

/** Each item's answer: the new state, or why its lease was refused. */
function leaseChecked(items: readonly LeaseRef[], rows: LeaseCheckedRow[]): TransitionResult[] {
  return rows.map((row) => {
    const item = items[row.ord - 1]!;
    if (row.new_state) return { jobId: item.jobId, ok: true, state: row.new_state };
    return refusalOfUnchanged(item, row.cur_state ? { state: row.cur_state, leaseToken: row.cur_lease_token } : null);
  });
}

export async function start(ctx: PostgresContext, items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]> {
  if (items.length === 0) return [];
  const now = ctx.clock();
  // A batch of steps can meet a workflow's fail-fast cascade in a deadlock (deadlocks.ts).
  const rows = await rerunOnDeadlock(() =>
    ctx.run<LeaseCheckedRow>(leasesSql.start, [
      items.map((i) => i.jobId),
      items.map((i) => i.leaseToken),
      now + leaseMs,
      now,
    ]),
  );
  return leaseChecked(items, rows);
}

export async function heartbeat(
  ctx: PostgresContext,
  items: (LeaseRef & { progress?: number })[],
  leaseMs: number,
): Promise<TransitionResult[]> {
  if (items.length === 0) return [];
  const now = ctx.clock();
  const rows = await rerunOnDeadlock(() =>
    ctx.run<LeaseCheckedRow>(leasesSql.heartbeat, [
      items.map((i) => i.jobId),
      items.map((i) => i.leaseToken),
      items.map((i) => i.progress ?? null),
      now + leaseMs,
      now,
    ]),
  );
  return leaseChecked(items, rows);
}

/**
 * complete and release: one transaction that locks the reported jobs, decides each item
 * in order, and applies every outcome in one statement. A batch holding a workflow's step
 * finds so while locking, before writing anything; it lets the locks go and is settled by
 * {@link settleSteps} instead, which locks the workflows before the jobs and advances them.
 * Plain jobs pay only for reading their (null) workflow_id.
 */
async function settle<T extends LeaseRef>(
  ctx: PostgresContext,
  items: readonly T[],
  now: number,
  decide: (item: T, row: SettleRow) => Omit<SettleAction, 'jobId'>,
): Promise<Settled> {
  const plain = await rerunOnDeadlock(() =>
    ctx.transaction(async (client): Promise<{ decided: Settled } | { workflows: string[] }> => {
      const ids = [...new Set(items.map((i) => i.jobId))];
      const locked = await ctx.run<SettleRow>(leasesSql.lockForSettle, [ids], client);
      const workflows = locked.flatMap((r) => (r.workflow_id === null ? [] : [r.workflow_id]));
      if (workflows.length > 0) return { workflows };
      const decided = decideBatch(items, new Map(locked.map((r) => [r.id, r])), decide);
      if (decided.actions.length > 0) {
        await ctx.run(leasesSql.settle, [...settleColumns(decided.actions), now], client);
      }
      return { decided: { ...decided, events: noEvents() } };
    }),
  );
  if ('decided' in plain) return plain.decided;
  return settleSteps(ctx, items, now, decide, plain.workflows);
}

export async function complete(ctx: PostgresContext, items: Completion[]): Promise<TransitionResult[]> {
  if (items.length === 0) return [];
  const now = ctx.clock();
  if (allSucceededOnce(items)) return completeSuccesses(ctx, items, now);
  return settleCompletions(ctx, items, now);
}

/** complete through lockForSettle + settle (a transaction), for any batch. */
async function settleCompletions(ctx: PostgresContext, items: Completion[], now: number): Promise<TransitionResult[]> {
  const { results, actions, events } = await settle(ctx, items, now, (item, row) =>
    completionDecision(item, row, now, ctx.random),
  );
  if (actions.length > 0) {
    const dueAt = earliestRetry(actions);
    ctx.relay.publish({ type: 'changed', ...(dueAt !== undefined && { dueAt }) });
  }
  publishAdvance(ctx, events);
  return results;
}

/**
 * Every item a success, each job once: the common batch (agents report what finished), which
 * the succeed statement records in one round trip. A job reported twice in a batch must see
 * its first report's effect, and failures need their retry decided (attempt-rules.ts), so any
 * other batch takes the transaction.
 */
function allSucceededOnce(items: readonly Completion[]): items is (Completion & { outcome: 'succeeded' })[] {
  if (!items.every((i) => i.outcome === 'succeeded')) return false;
  return new Set(items.map((i) => i.jobId)).size === items.length;
}

/** A row of the succeed statement: recorded, or the job as it was found. */
interface SucceedRow {
  ord: number;
  done: boolean;
  cur_state: JobState | null;
  cur_lease_token: string | null;
  workflow_id: string | null;
}

/**
 * Successes in one statement. A workflow's step under a current lease is not recorded there:
 * those go through {@link settleCompletions}, which advances their workflows.
 */
async function completeSuccesses(
  ctx: PostgresContext,
  items: (Completion & { outcome: 'succeeded' })[],
  now: number,
): Promise<TransitionResult[]> {
  const rows = await rerunOnDeadlock(() =>
    ctx.run<SucceedRow>(leasesSql.succeed, [
      items.map((i) => i.jobId),
      items.map((i) => i.leaseToken),
      items.map((i) => toJson(i.result)),
      items.map((i) => i.startedAt ?? null),
      now,
    ]),
  );
  const results: (TransitionResult | undefined)[] = [];
  const steps: Completion[] = [];
  let recorded = 0;
  for (const row of rows) {
    const item = items[row.ord - 1]!;
    if (row.done) {
      recorded += 1;
      results.push({ jobId: item.jobId, ok: true, state: 'succeeded' });
      continue;
    }
    const job = row.cur_state ? { state: row.cur_state, leaseToken: row.cur_lease_token } : null;
    if (row.workflow_id !== null && refusalFor(item, job) === null) {
      steps.push(item);
      results.push(undefined);
    } else {
      results.push(refusalOfUnchanged(item, job));
    }
  }
  if (recorded > 0) ctx.relay.publish({ type: 'changed' });
  if (steps.length === 0) return results as TransitionResult[];
  const settled = new Map((await settleCompletions(ctx, steps, now)).map((r) => [r.jobId, r]));
  return results.map((r, k) => r ?? settled.get(items[k]!.jobId)!);
}

export async function release(
  ctx: PostgresContext,
  items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[],
): Promise<TransitionResult[]> {
  if (checkReleaseItems(items) === 0) return [];
  const now = ctx.clock();
  const { results, actions, events } = await settle(ctx, items, now, (item, row) => releaseDecision(item, row, now));
  if (actions.length > 0) ctx.relay.publish({ type: 'changed' });
  publishAdvance(ctx, events);
  return results;
}
