import type { NewWorkflow, Workflow, WorkflowStep } from '@baton/core';
import { ValidationError, WORKFLOW_STATES } from '@baton/core';
import { enqueuedEvent, initialState } from '../rules/enqueue-rules.js';
import { decodeCursor, encodeCursor } from '../rules/listing-rules.js';
import type { WorkflowListQuery, WorkflowPage } from '../workflows.js';
import type { PostgresContext } from './context.js';
import { enqueueColumns } from './rows.js';
import * as workflowsSql from './sql/workflows.js';
import type { WorkflowRow, WorkflowStepRow } from './workflow-rows.js';
import { stepFromRow, workflowFromRow } from './workflow-rows.js';

/**
 * Workflows in PostgreSQL: creating, reading and listing them (cancel and retry:
 * workflow-control.ts; advancing: workflow-advance.ts; addSteps: workflow-growth.ts).
 */

/**
 * One transaction: the workflow row (or, when its (owner, idempotency key) exists, the
 * existing workflow and nothing else), then every step's job, step row and edges in one
 * statement, the counters moved by that statement's triggers as for an enqueue.
 */
export async function createWorkflow(
  ctx: PostgresContext,
  workflow: NewWorkflow,
): Promise<{ workflow: Workflow; created: boolean }> {
  const now = ctx.clock();
  const jobIdOf = new Map(workflow.steps.map((s) => [s.step, s.job.id]));
  const edges = workflow.steps.flatMap((s) => s.needs.map((need) => [jobIdOf.get(need)!, s.job.id] as const));
  const out = await ctx.transaction(async (client) => {
    const [row] = await ctx.run<WorkflowRow>(
      workflowsSql.insertWorkflow,
      [
        workflow.id,
        workflow.owner,
        workflow.name,
        workflow.onFailure,
        workflow.maxSteps,
        workflow.idempotencyKey,
        workflow.steps.length,
        workflow.createdAt,
      ],
      client,
    );
    if (!row) {
      // ON CONFLICT waited for a concurrent creator's commit: this statement sees its row.
      const [existing] = await ctx.run<WorkflowRow>(
        workflowsSql.workflowByKey,
        [workflow.owner, workflow.idempotencyKey],
        client,
      );
      if (!existing) throw new Error(`workflow ${workflow.id} was neither created nor found by its key`);
      return { row: existing, created: false, inserted: [] };
    }
    const jobs = workflow.steps.map((s) => s.job);
    const inserted = await ctx.run<{
      id: string;
      queue: string;
      state: 'queued' | 'delayed' | 'blocked';
      run_at: number;
    }>(
      workflowsSql.insertSteps,
      [
        ...enqueueColumns(jobs),
        workflow.steps.map((s) => (s.needs.length > 0 ? 'blocked' : initialState(s.job, now))),
        workflow.steps.map((s) => s.step),
        workflow.steps.map((s) => JSON.stringify(s.needs)),
        workflow.id,
        edges.map(([need]) => need),
        edges.map(([, dependent]) => dependent),
        workflow.steps.map((s) => s.needs.length),
      ],
      client,
    );
    return { row, created: true, inserted };
  });
  const event = enqueuedEvent(
    out.inserted.filter((r) => r.state !== 'blocked').map((r) => ({ queue: r.queue, state: r.state, runAt: r.run_at })),
  );
  if (event) ctx.relay.publish(event);
  return { workflow: workflowFromRow(out.row), created: out.created };
}

export async function getWorkflow(ctx: PostgresContext, id: string): Promise<Workflow | null> {
  const [row] = await ctx.run<WorkflowRow>(workflowsSql.getWorkflow, [id]);
  return row ? workflowFromRow(row) : null;
}

/** Newest first (ids sort by creation time), by keyset on id; by owner or state through their indexes. */
export async function listWorkflows(ctx: PostgresContext, query: WorkflowListQuery): Promise<WorkflowPage> {
  if (query.state && !WORKFLOW_STATES.includes(query.state)) {
    throw new ValidationError(`unknown workflow state "${query.state}"`);
  }
  const limit = Math.max(0, Math.trunc(query.limit));
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  if (query.state) where.push(`state = ${param(query.state)}`);
  if (query.owner) where.push(`owner = ${param(query.owner)}`);
  if (query.cursor) where.push(`id < ${param(decodeCursor(query.cursor))}`);
  const sql = `SELECT * FROM workflows ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY id DESC LIMIT ${param(limit + 1)}`;
  const rows = (await ctx.pool.query<WorkflowRow>(sql, values)).rows;
  const page = rows.slice(0, limit).map(workflowFromRow);
  const last = page[page.length - 1];
  return { workflows: page, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}

export async function workflowSteps(
  ctx: PostgresContext,
  id: string,
  page: { after?: string; limit: number },
): Promise<WorkflowStep[]> {
  const limit = Math.max(0, Math.trunc(page.limit));
  if (limit === 0) return [];
  const rows = await ctx.run<WorkflowStepRow>(workflowsSql.workflowSteps, [id, page.after ?? '', limit]);
  return rows.map(stepFromRow);
}
