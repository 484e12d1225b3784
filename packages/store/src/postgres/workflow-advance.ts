import type pg from 'pg';
import type { JobState, WorkflowCounts } from '@baton/core';
import { LEASED_STATES, failFastError, finalWorkflowState, skippedError, unfinishedSteps } from '@baton/core';
import { enqueuedEvent } from '../rules/enqueue-rules.js';
import type { PostgresContext } from './context.js';
import { toJson } from './rows.js';
import * as advanceSql from './sql/workflow-advance.js';
import * as workflowsSql from './sql/workflows.js';
import type { WorkflowRow } from './workflow-rows.js';
import { countsOf } from './workflow-rows.js';

/**
 * Advancing workflows, inside the transaction of the transition that finished their steps
 * (complete, release, expireLeases, cancel), with their rows locked by {@link lockWorkflows}
 * before any of their steps' jobs: every transaction that changes steps of a workflow takes
 * its row first, so concurrent completions of sibling steps, from any server, advance it one
 * after another (none loses a decrement, none releases a step twice), and they take the
 * workflow and its jobs in one order.
 *
 * Within a batch, its transitions apply first, then the workflow advances once for all of
 * them: a join whose needs all finish in one batch is released once, with every input.
 */

/** A step a transition just ended. */
export interface FinishedStep {
  jobId: string;
  workflowId: string;
  state: 'succeeded' | 'failed' | 'cancelled';
}

/** What to tell listeners once the transaction has committed. */
export interface AdvanceEvents {
  released: { queue: string; state: JobState; runAt: number }[];
  cancelled: { jobId: string; agentId: string | null }[];
}

export const noEvents = (): AdvanceEvents => ({ released: [], cancelled: [] });

/** Locks workflows (in id order), answering each locked row by id. */
export async function lockWorkflows(
  ctx: PostgresContext,
  client: pg.ClientBase,
  ids: readonly string[],
): Promise<Map<string, WorkflowRow>> {
  const rows = await ctx.run<WorkflowRow>(workflowsSql.lockWorkflows, [[...new Set(ids)]], client);
  return new Map(rows.map((r) => [r.id, r]));
}

/** Mutable counts of a locked workflow while a transaction advances it. */
interface Tally {
  row: WorkflowRow;
  counts: WorkflowCounts;
  /** The first step of this batch that ended without success, for fail-fast's error. */
  failure: FinishedStep | null;
}

/**
 * Advances the locked workflows of `finished`: releases dependents of successes, skips the
 * unfinished dependents of the others, cancels every other unfinished step of a fail-fast
 * workflow that had one, updates the counts, and ends a workflow with no unfinished step.
 */
export async function advance(
  ctx: PostgresContext,
  client: pg.ClientBase,
  locked: ReadonlyMap<string, WorkflowRow>,
  finished: readonly FinishedStep[],
  now: number,
): Promise<AdvanceEvents> {
  const events = noEvents();
  if (finished.length === 0) return events;
  const tallies = new Map<string, Tally>();
  const tallyOf = (id: string): Tally => {
    let t = tallies.get(id);
    if (!t) {
      const row = locked.get(id);
      if (!row) throw new Error(`workflow ${id} advanced without its lock`);
      t = { row, counts: countsOf(row), failure: null };
      tallies.set(id, t);
    }
    return t;
  };
  for (const f of finished) {
    const t = tallyOf(f.workflowId);
    t.counts[f.state] += 1;
    if (f.state !== 'succeeded') t.failure ??= f;
  }

  const succeeded = finished.filter((f) => f.state === 'succeeded').map((f) => f.jobId);
  if (succeeded.length > 0) {
    const released = await ctx.run<{ id: string; queue: string; state: JobState; run_at: number }>(
      advanceSql.releaseDependents,
      [succeeded, now],
      client,
    );
    events.released.push(...released.map((r) => ({ queue: r.queue, state: r.state, runAt: r.run_at })));
  }

  const unsuccessful = finished.filter((f) => f.state !== 'succeeded');
  if (unsuccessful.length > 0) {
    await skipDependents(ctx, client, unsuccessful, tallyOf, now);
    await failFast(ctx, client, unsuccessful, tallyOf, events, now);
  }

  for (const t of tallies.values()) await saveTally(ctx, client, t, now);
  return events;
}

/** Ends `skipped` every unfinished step that needs one of `unsuccessful`, directly or not. */
async function skipDependents(
  ctx: PostgresContext,
  client: pg.ClientBase,
  unsuccessful: readonly FinishedStep[],
  tallyOf: (id: string) => Tally,
  now: number,
): Promise<void> {
  const dependents = await ctx.run<{ job_id: string; workflow_id: string; need_step: string; need_state: JobState }>(
    advanceSql.unfinishedDependents,
    [unsuccessful.map((f) => f.jobId), unsuccessful.map((f) => f.state)],
    client,
  );
  if (dependents.length === 0) return;
  const skipped = await ctx.run<{ id: string }>(
    advanceSql.skipSteps,
    [dependents.map((d) => d.job_id), dependents.map((d) => toJson(skippedError(d.need_step, d.need_state))), now],
    client,
  );
  const workflowOf = new Map(dependents.map((d) => [d.job_id, d.workflow_id]));
  for (const s of skipped) tallyOf(workflowOf.get(s.id)!).counts.skipped += 1;
}

/** Under fail-fast, a step that did not succeed cancels every other unfinished step of its workflow. */
async function failFast(
  ctx: PostgresContext,
  client: pg.ClientBase,
  unsuccessful: readonly FinishedStep[],
  tallyOf: (id: string) => Tally,
  events: AdvanceEvents,
  now: number,
): Promise<void> {
  const failing = [...new Set(unsuccessful.map((f) => f.workflowId))]
    .map(tallyOf)
    .filter((t) => t.row.on_failure === 'fail-fast' && t.failure && unfinishedSteps(t.counts) > 0);
  if (failing.length === 0) return;
  const names = await ctx.run<{ job_id: string; step: string }>(
    advanceSql.stepNames,
    [failing.map((t) => t.failure!.jobId)],
    client,
  );
  const stepOf = new Map(names.map((n) => [n.job_id, n.step]));
  for (const t of failing) {
    const error = failFastError(stepOf.get(t.failure!.jobId) ?? '?', t.failure!.state);
    const cancelled = await cancelUnfinished(ctx, client, t.row.id, toJson(error), now, events);
    t.counts.cancelled += cancelled;
  }
}

/**
 * Cancels every unfinished step of a locked workflow with `error` (JSON text); leased ones'
 * agents are told. Answers how many it cancelled.
 */
export async function cancelUnfinished(
  ctx: PostgresContext,
  client: pg.ClientBase,
  workflowId: string,
  error: string,
  now: number,
  events: AdvanceEvents,
): Promise<number> {
  const rows = await ctx.run<{ id: string; old_state: JobState; agent_id: string | null }>(
    workflowsSql.cancelUnfinished,
    [workflowId, error, now],
    client,
  );
  for (const r of rows) {
    if (LEASED_STATES.has(r.old_state)) events.cancelled.push({ jobId: r.id, agentId: r.agent_id });
  }
  return rows.length;
}

/** Writes a workflow's new counts, ending it when no step is unfinished. */
async function saveTally(ctx: PostgresContext, client: pg.ClientBase, t: Tally, now: number): Promise<void> {
  const ended = unfinishedSteps(t.counts) === 0;
  const state = ended ? finalWorkflowState(t.counts, t.row.cancel_requested) : t.row.state;
  await saveWorkflow(ctx, client, t.row, t.counts, state, ended ? now : t.row.finished_at, now);
}

/** Writes a locked workflow's counts and state. */
export async function saveWorkflow(
  ctx: PostgresContext,
  client: pg.ClientBase,
  row: WorkflowRow,
  counts: WorkflowCounts,
  state: string,
  finishedAt: number | null,
  now: number,
  cancelRequested = row.cancel_requested,
): Promise<WorkflowRow> {
  const [saved] = await ctx.run<WorkflowRow>(
    workflowsSql.saveWorkflow,
    [
      row.id,
      state,
      counts.succeeded,
      counts.failed,
      counts.cancelled,
      counts.skipped,
      cancelRequested,
      finishedAt,
      now,
    ],
    client,
  );
  if (!saved) throw new Error(`workflow ${row.id} vanished while locked`);
  return saved;
}

/** Tells listeners what advancing did, once its transaction has committed. */
export function publishAdvance(ctx: PostgresContext, events: AdvanceEvents): void {
  const enqueued = enqueuedEvent(events.released);
  if (enqueued) ctx.relay.publish(enqueued);
  for (const c of events.cancelled) ctx.relay.publish({ type: 'cancelled', jobId: c.jobId, agentId: c.agentId });
}
