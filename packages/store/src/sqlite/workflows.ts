import type { JobState, NewWorkflow, Workflow, WorkflowStep } from '@baton/core';
import {
  ConflictError,
  FINAL_STATES,
  NotFoundError,
  WORKFLOW_CANCELLED_ERROR,
  stepsToRerun,
  unfinishedSteps,
} from '@baton/core';
import { decodeCursor, encodeCursor } from '../rules/listing-rules.js';
import type { WorkflowListQuery, WorkflowPage } from '../workflows.js';
import type { SqliteContext } from './context.js';
import { OwnerTally } from './owner-tally.js';
import { rowFromNewJob } from './rows.js';
import { WorkflowAdvance, noneFinished } from './workflow-advance.js';
import type { StepPageRow, WorkflowRow } from './workflow-rows.js';
import { stepFromRow, workflowFromRow } from './workflow-rows.js';

/** Workflows in SQLite: create, read, list, cancel and retry; advancing is workflow-advance.ts. */

export function createWorkflow(ctx: SqliteContext, spec: NewWorkflow): { workflow: Workflow; created: boolean } {
  const { wf, sql } = ctx;
  const queues = new Set<string>();
  const result = ctx.db.transaction(() => {
    if (spec.idempotencyKey !== null) {
      const existing = wf.workflowByKey.get(spec.owner, spec.idempotencyKey) as WorkflowRow | undefined;
      if (existing) return { workflow: workflowFromRow(existing), created: false };
    }
    wf.insertWorkflow.run({
      id: spec.id,
      owner: spec.owner,
      name: spec.name,
      on_failure: spec.onFailure,
      max_steps: spec.maxSteps,
      idempotency_key: spec.idempotencyKey,
      steps: spec.steps.length,
      created_at: spec.createdAt,
    });
    const jobIds = new Map(spec.steps.map((s) => [s.step, s.job.id]));
    const counts = new OwnerTally();
    for (const { step, needs, job } of spec.steps) {
      const state: JobState = needs.length > 0 ? 'blocked' : 'queued';
      wf.insertStepJob.run({ ...rowFromNewJob(job, state), workflow_id: spec.id });
      counts.move(job.owner, job.queue, null, state, job.resources);
      wf.insertStep.run(job.id, spec.id, step, JSON.stringify(needs), needs.length, job.maxAttempts);
      for (const need of needs) wf.insertEdge.run(jobIds.get(need), job.id);
      if (state === 'queued') queues.add(job.queue);
    }
    counts.flush(sql);
    return { workflow: workflowFromRow(wf.getWorkflow.get(spec.id) as WorkflowRow), created: true };
  })();
  if (result.created && queues.size > 0) ctx.events.emit({ type: 'enqueued', queues: [...queues] });
  return result;
}

export function getWorkflow(ctx: SqliteContext, id: string): Workflow | null {
  const row = ctx.wf.getWorkflow.get(id) as WorkflowRow | undefined;
  return row ? workflowFromRow(row) : null;
}

export function listWorkflows(ctx: SqliteContext, query: WorkflowListQuery): WorkflowPage {
  const limit = Math.max(0, Math.trunc(query.limit));
  const filters: [string, unknown][] = [];
  if (query.state) filters.push(['state = ?', query.state]);
  if (query.owner) filters.push(['owner = ?', query.owner]);
  if (query.cursor) filters.push(['id < ?', decodeCursor(query.cursor)]);
  const where = filters.map(([clause]) => clause);
  const params = filters.map(([, value]) => value);
  const sql = `SELECT * FROM workflows ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  const rows = ctx.db.prepare(sql).all(...params, limit + 1) as WorkflowRow[];
  const page = rows.slice(0, limit).map(workflowFromRow);
  const last = page[page.length - 1];
  return { workflows: page, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}

export function workflowSteps(ctx: SqliteContext, id: string, page: { after?: string; limit: number }): WorkflowStep[] {
  const rows = ctx.wf.stepsPage.all(id, page.after ?? '', Math.max(0, Math.trunc(page.limit))) as StepPageRow[];
  return rows.map(stepFromRow);
}

/** The workflow row, or WORKFLOW_NOT_FOUND. */
export function workflowRow(ctx: SqliteContext, id: string): WorkflowRow {
  const row = ctx.wf.getWorkflow.get(id) as WorkflowRow | undefined;
  if (!row) throw new NotFoundError(`workflow ${id} not found`, 'WORKFLOW_NOT_FOUND');
  return row;
}

export function cancelWorkflow(ctx: SqliteContext, id: string): Workflow {
  const now = ctx.clock();
  const advance = new WorkflowAdvance(ctx, now);
  const workflow = ctx.db.transaction(() => {
    const row = workflowRow(ctx, id);
    if (row.state !== 'running') {
      throw new ConflictError(`workflow ${id} has already ended (${row.state})`, 'WORKFLOW_FINISHED', {
        state: row.state,
      });
    }
    ctx.wf.requestCancel.run({ now, id });
    const counts = noneFinished();
    advance.cancelUnfinished(id, WORKFLOW_CANCELLED_ERROR, counts);
    advance.count(id, counts);
    advance.settle();
    return workflowFromRow(workflowRow(ctx, id));
  })();
  advance.emit();
  return workflow;
}

export function retryWorkflow(ctx: SqliteContext, id: string, from?: string): Workflow {
  const now = ctx.clock();
  const advance = new WorkflowAdvance(ctx, now);
  const workflow = ctx.db.transaction(() => {
    const row = workflowRow(ctx, id);
    if (row.state === 'running') throw new ConflictError(`workflow ${id} is still running`, 'WORKFLOW_RUNNING');
    const steps = ctx.wf.allSteps.all(id) as { id: string; state: JobState; step: string; needs: string }[];
    const byStep = new Map(steps.map((s) => [s.step, { ...s, needs: JSON.parse(s.needs) as string[] }]));
    const dependents = new Map<string, string[]>();
    for (const s of byStep.values())
      for (const n of s.needs) (dependents.get(n) ?? dependents.set(n, []).get(n)!).push(s.step);
    let roots: string[];
    if (from !== undefined) {
      if (!byStep.has(from)) throw new NotFoundError(`workflow ${id} has no step ${from}`, 'STEP_NOT_FOUND');
      roots = [from];
    } else {
      roots = [...byStep.values()].filter((s) => s.state !== 'succeeded').map((s) => s.step);
      if (roots.length === 0) throw new ConflictError(`every step of workflow ${id} succeeded`, 'NOTHING_TO_RETRY');
    }
    const rerun = stepsToRerun(roots, (s) => dependents.get(s) ?? []);
    // Checked whole before anything changes: a step to run again whose need stays unsuccessful could never run.
    for (const step of rerun) {
      for (const need of byStep.get(step)!.needs) {
        if (!rerun.has(need) && byStep.get(need)?.state !== 'succeeded') {
          throw new ConflictError(
            `step ${step} needs step ${need}, which did not succeed and would not run again; retry from ${need} instead`,
            'NEED_UNSUCCESSFUL',
            { step, need },
          );
        }
      }
    }
    const taken = noneFinished();
    const released: { id: string; queue: string }[] = [];
    for (const step of rerun) {
      const s = byStep.get(step)!;
      if (FINAL_STATES.has(s.state)) taken[s.state as keyof typeof taken]++;
      const left = s.needs.filter((n) => rerun.has(n)).length;
      ctx.wf.keepLastAttempt.run(s.id);
      ctx.wf.resetStep.run({ state: 'blocked', now, id: s.id });
      ctx.wf.resetNeeds.run(left, s.id);
      if (left === 0) released.push({ id: s.id, queue: (ctx.sql.getJob.get(s.id) as { queue: string }).queue });
    }
    const reopened = workflowFromRow(ctx.wf.reopenWorkflow.get({ id, now, ...taken }) as WorkflowRow);
    for (const r of released) advance.release(r.id, r.queue);
    if (unfinishedSteps(reopened.counts) === 0) throw new Error(`retry of workflow ${id} re-ran no step`);
    return workflowFromRow(workflowRow(ctx, id));
  })();
  advance.emit();
  return workflow;
}
