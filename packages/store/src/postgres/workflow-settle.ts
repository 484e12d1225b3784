import type { LeaseRef, TransitionResult } from '@baton/core';
import type { PostgresContext } from './context.js';
import type { SettleAction, SettleRow } from './settle.js';
import { decideBatch, settleColumns } from './settle.js';
import * as leasesSql from './sql/leases.js';
import * as advanceSql from './sql/workflow-advance.js';
import type { AdvanceEvents, FinishedStep } from './workflow-advance.js';
import { advance, lockWorkflows, noEvents, publishAdvance } from './workflow-advance.js';
import { rerunOnDeadlock } from './deadlocks.js';

/**
 * The lease transitions that finish workflow steps: complete and release of a batch holding
 * steps, and leases that ran out on a step's last attempt. Each locks the steps' workflows
 * first, then their jobs, and advances the workflows in the same transaction.
 */

/** What settling a batch came to, and what to tell listeners after the commit. */
export interface Settled {
  results: TransitionResult[];
  actions: SettleAction[];
  events: AdvanceEvents;
}

/**
 * complete or release of a batch that holds workflow steps (`workflows`: theirs, as the first
 * lock read them; a job's workflow never changes): as the plain settle, with the workflows
 * locked first and advanced by the steps it ended.
 */
export async function settleSteps<T extends LeaseRef>(
  ctx: PostgresContext,
  items: readonly T[],
  now: number,
  decide: (item: T, row: SettleRow) => Omit<SettleAction, 'jobId'>,
  workflows: readonly string[],
): Promise<Settled> {
  return rerunOnDeadlock(() =>
    ctx.transaction(async (client) => {
      const locked = await lockWorkflows(ctx, client, workflows);
      const ids = [...new Set(items.map((i) => i.jobId))];
      const rows = await ctx.run<SettleRow>(leasesSql.lockForSettle, [ids], client);
      const workflowOf = new Map(rows.map((r) => [r.id, r.workflow_id]));
      const decided = decideBatch(items, new Map(rows.map((r) => [r.id, r])), decide);
      if (decided.actions.length === 0) return { ...decided, events: noEvents() };
      await ctx.run(leasesSql.settle, [...settleColumns(decided.actions), now], client);
      const finished: FinishedStep[] = [];
      for (const a of decided.actions) {
        const workflowId = workflowOf.get(a.jobId);
        if (workflowId && (a.state === 'succeeded' || a.state === 'failed')) {
          finished.push({ jobId: a.jobId, workflowId, state: a.state });
        }
      }
      const events = await advance(ctx, client, locked, finished, now);
      return { ...decided, events };
    }),
  );
}

/**
 * Fails steps whose lease ran out on their last attempt (expireLeases found them and left
 * them to this): their workflows locked first, each step rechecked under its lock, failed as
 * a plain job would be, and its workflow advanced. Answers the ids it failed.
 */
export async function failExpiredSteps(ctx: PostgresContext, due: [string, string][], now: number): Promise<string[]> {
  if (due.length === 0) return [];
  const { failed, events } = await rerunOnDeadlock(() =>
    ctx.transaction(async (client) => {
      const locked = await lockWorkflows(
        ctx,
        client,
        due.map(([, workflowId]) => workflowId),
      );
      const rows = await ctx.run<{ id: string; workflow_id: string }>(
        advanceSql.failExpiredSteps,
        [due.map(([id]) => id), now],
        client,
      );
      const finished = rows.map((r): FinishedStep => ({ jobId: r.id, workflowId: r.workflow_id, state: 'failed' }));
      return { failed: rows.map((r) => r.id), events: await advance(ctx, client, locked, finished, now) };
    }),
  );
  publishAdvance(ctx, events);
  return failed;
}
