import type pg from 'pg';
import type { JobState, Workflow, WorkflowCounts } from '@baton/core';
import { ConflictError, NotFoundError, WORKFLOW_CANCELLED_ERROR, finalWorkflowState } from '@baton/core';
import type { PostgresContext } from './context.js';
import { toJson } from './rows.js';
import * as advanceSql from './sql/workflow-advance.js';
import type { AdvanceEvents } from './workflow-advance.js';
import { cancelUnfinished, lockWorkflows, noEvents, publishAdvance, saveWorkflow } from './workflow-advance.js';
import { rerunOnDeadlock } from './deadlocks.js';
import type { WorkflowRow } from './workflow-rows.js';
import { countsOf, workflowFromRow } from './workflow-rows.js';

/** cancelWorkflow and retryWorkflow in PostgreSQL: one transaction each, the workflow locked first. */

/** Locks a workflow, or refuses an unknown one. */
async function lockOne(ctx: PostgresContext, client: pg.ClientBase, id: string): Promise<WorkflowRow> {
  const row = (await lockWorkflows(ctx, client, [id])).get(id);
  if (!row) throw new NotFoundError(`workflow ${id} not found`, 'WORKFLOW_NOT_FOUND');
  return row;
}

export async function cancelWorkflow(ctx: PostgresContext, id: string): Promise<Workflow> {
  const now = ctx.clock();
  const { row, events } = await rerunOnDeadlock(() =>
    ctx.transaction(async (client) => {
      const locked = await lockOne(ctx, client, id);
      if (locked.state !== 'running') {
        throw new ConflictError(`workflow ${id} is already ${locked.state}`, 'WORKFLOW_FINISHED', {
          state: locked.state,
        });
      }
      const events = noEvents();
      const counts = countsOf(locked);
      counts.cancelled += await cancelUnfinished(ctx, client, id, toJson(WORKFLOW_CANCELLED_ERROR), now, events);
      const row = await saveWorkflow(ctx, client, locked, counts, finalWorkflowState(counts, true), now, now, true);
      return { row, events };
    }),
  );
  publishAdvance(ctx, events);
  return workflowFromRow(row);
}

/** A step as a retry reads it. */
interface RetryStep {
  job_id: string;
  step: string;
  needs: string[];
  state: JobState;
  attempts: number;
  queue: string;
  run_at: number;
}

/**
 * Chooses the steps to re-run (see Workflows.retryWorkflow): `from` and its dependents, or
 * every step that did not succeed and their dependents. Throws, changing nothing, when it
 * cannot.
 */
export function stepsToRetry(steps: readonly RetryStep[], from: string | undefined): Set<string> {
  const byStep = new Map(steps.map((s) => [s.step, s]));
  const dependents = new Map<string, string[]>();
  for (const s of steps) for (const n of s.needs) dependents.set(n, [...(dependents.get(n) ?? []), s.step]);
  let roots: string[];
  if (from !== undefined) {
    if (!byStep.has(from)) throw new NotFoundError(`workflow has no step ${from}`, 'STEP_NOT_FOUND');
    roots = [from];
  } else {
    roots = steps.filter((s) => s.state !== 'succeeded').map((s) => s.step);
    if (roots.length === 0) throw new ConflictError('every step succeeded: nothing to retry', 'NOTHING_TO_RETRY');
  }
  const set = new Set<string>();
  const todo = [...roots];
  for (let step = todo.pop(); step !== undefined; step = todo.pop()) {
    if (set.has(step)) continue;
    set.add(step);
    todo.push(...(dependents.get(step) ?? []));
  }
  for (const s of steps) {
    if (!set.has(s.step)) continue;
    for (const need of s.needs) {
      if (set.has(need) || byStep.get(need)?.state === 'succeeded') continue;
      throw new ConflictError(`step ${s.step} needs ${need}, which did not succeed`, 'NEED_UNSUCCESSFUL', {
        step: s.step,
        need,
      });
    }
  }
  return set;
}

/**
 * Re-runs part of an ended workflow in one transaction: the chosen steps' last attempts kept as
 * history, the steps reset (queued when their needs are all outside the set, with inputs;
 * else blocked), the counts recomputed from the steps' states, the workflow running again.
 */
export async function retryWorkflow(ctx: PostgresContext, id: string, from?: string): Promise<Workflow> {
  const now = ctx.clock();
  const { row, events } = await rerunOnDeadlock(() =>
    ctx.transaction(async (client) => {
      const locked = await lockOne(ctx, client, id);
      if (locked.state === 'running') throw new ConflictError(`workflow ${id} is running`, 'WORKFLOW_RUNNING');
      const steps = await ctx.run<RetryStep>(advanceSql.stepsForRetry, [id], client);
      const set = stepsToRetry(steps, from);
      const again = steps.filter((s) => set.has(s.step));
      const needsLeft = again.map((s) => s.needs.filter((n) => set.has(n)).length);
      const states = again.map((s, i) => (needsLeft[i]! > 0 ? 'blocked' : s.run_at > now ? 'delayed' : 'queued'));
      const ids = again.map((s) => s.job_id);
      await ctx.run(advanceSql.keepLastAttempts, [ids], client);
      const reset = await ctx.run<{ id: string; queue: string; state: JobState; run_at: number }>(
        advanceSql.resetSteps,
        [ids, states, needsLeft, now],
        client,
      );
      const counts: WorkflowCounts = { steps: locked.steps, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 };
      for (const s of steps) {
        if (set.has(s.step)) continue;
        if (s.state === 'succeeded' || s.state === 'failed' || s.state === 'cancelled' || s.state === 'skipped') {
          counts[s.state] += 1;
        }
      }
      const row = await saveWorkflow(ctx, client, locked, counts, 'running', null, now, false);
      const events: AdvanceEvents = {
        released: reset
          .filter((r) => r.state !== 'blocked')
          .map((r) => ({ queue: r.queue, state: r.state, runAt: r.run_at })),
        cancelled: [],
      };
      return { row, events };
    }),
  );
  publishAdvance(ctx, events);
  return workflowFromRow(row);
}
