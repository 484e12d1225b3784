import type { Job, JobAttempt, JobState, NewJob } from '@baton/core';
import { ConflictError, FINAL_STATES, LEASED_STATES, NotFoundError } from '@baton/core';
import type { EnqueueResult, JobListQuery, JobPage, QueueStats } from '../contract.js';
import { enqueuedEvent, initialState } from '../rules/enqueue-rules.js';
import {
  QueueStatsTally,
  TASK_SCAN_WINDOW,
  listFilter,
  pageOf,
  taskWindow,
  windowPage,
} from '../rules/listing-rules.js';
import type { SqliteContext } from './context.js';
import { OwnerTally } from './owner-tally.js';
import type { AttemptRow, JobRow } from './rows.js';
import { attemptFromRow, jobFromRow, rowFromNewJob } from './rows.js';
import { WorkflowAdvance } from './workflow-advance.js';
import { withStepOfJob } from './workflow-steps.js';

/** Jobs in SQLite: enqueue, reads, listings, queue statistics and cancel. */

export function jobRow(ctx: SqliteContext, id: string): JobRow | undefined {
  return ctx.sql.getJob.get(id) as JobRow | undefined;
}

export function enqueue(ctx: SqliteContext, jobs: NewJob[]): EnqueueResult[] {
  const now = ctx.clock();
  const { sql } = ctx;
  // One transaction: a key is looked up and claimed with no other writer in between, so a
  // repeat (in the batch or from before) is found here and there is nothing to send again.
  const results = ctx.db.transaction(() => {
    // Owner counts of the new jobs, one write per owner, queue and state (migration 8).
    const counts = new OwnerTally();
    const out = jobs.map((job): EnqueueResult => {
      if (job.idempotencyKey !== null) {
        const existing = sql.getByIdempotencyKey.get(job.owner, job.idempotencyKey) as JobRow | undefined;
        if (existing) return { job: jobFromRow(existing), created: false };
      }
      const row = sql.insertJob.get(rowFromNewJob(job, initialState(job, now))) as JobRow;
      const created = jobFromRow(row);
      counts.move(created.owner, created.queue, null, created.state, created.resources);
      return { job: created, created: true };
    });
    counts.flush(sql);
    return out;
  })();
  const event = enqueuedEvent(createdJobs(results));
  if (event) ctx.events.emit(event);
  return results;
}

/** The jobs an enqueue created, for its event. */
function* createdJobs(results: readonly EnqueueResult[]): Iterable<Job> {
  for (const r of results) if (r.created) yield r.job;
}

export function getJob(ctx: SqliteContext, id: string): Job | null {
  const row = jobRow(ctx, id);
  return row ? jobOf(ctx, row) : null;
}

/** A row as a job; a workflow step's with its place in the workflow and its inputs. */
function jobOf(ctx: SqliteContext, row: JobRow): Job {
  const job = jobFromRow(row);
  return row.workflow_id === null ? job : withStepOfJob(ctx, job, row.workflow_id);
}

export function getAttempts(ctx: SqliteContext, id: string): JobAttempt[] {
  return (ctx.sql.getAttempts.all({ id }) as AttemptRow[]).map(attemptFromRow);
}

export function listJobs(ctx: SqliteContext, query: JobListQuery): JobPage {
  const q = listFilter(query);
  const filters: [string, unknown][] = [];
  if (q.state) filters.push([stateFilter(q.state), undefined]);
  if (q.queue) filters.push(['queue = ?', q.queue]);
  if (q.owner) filters.push(['owner = ?', q.owner]);
  if (q.before) filters.push(['id < ?', q.before]);
  if (q.from) filters.push(['id >= ?', q.from]);
  const where = filters.map(([clause]) => clause);
  const params = filters.flatMap(([, value]) => (value === undefined ? [] : [value]));
  // Leased jobs are few (at most the fleet's slots) but SQLite cannot tell: without the hint
  // it would walk the whole table backwards to find them.
  const hint = q.state && LEASED_STATES.has(q.state) && !q.queue ? 'INDEXED BY jobs_leased' : '';
  const from = `FROM jobs ${hint} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  if (q.task) {
    // No index on task: a bounded window of the other filters' jobs, then the page's rows.
    const scanned = ctx.db.prepare(`SELECT id, task ${from}`).all(...params, TASK_SCAN_WINDOW) as {
      id: string;
      task: string;
    }[];
    const { ids, shortCursor } = taskWindow(scanned, q.task, q.limit);
    const rows = ids.map((id) => jobRow(ctx, id)).filter((row): row is JobRow => row !== undefined);
    return windowPage(
      rows.map((row) => jobOf(ctx, row)),
      q.limit,
      shortCursor,
    );
  }
  const rows = ctx.db.prepare(`SELECT * ${from}`).all(...params, q.limit + 1) as JobRow[];
  return pageOf(
    rows.map((row) => jobOf(ctx, row)),
    q.limit,
  );
}

/**
 * The state condition of a job listing (the state checked by listFilter), written as a literal
 * so SQLite can use the partial index of that state (it cannot match a partial index against a
 * bound parameter).
 */
function stateFilter(state: JobState): string {
  return LEASED_STATES.has(state) ? `state IN ('assigned', 'running') AND state = '${state}'` : `state = '${state}'`;
}

export function queueStats(ctx: SqliteContext): QueueStats[] {
  const now = ctx.clock();
  const tally = new QueueStatsTally(now);
  for (const r of ctx.sql.routeQueues.all(now) as { queue: string }[]) tally.queue(r.queue);
  for (const r of ctx.sql.countByQueueState.all() as { queue: string; state: JobState; n: number }[]) {
    tally.count(r.queue, r.state, r.n);
  }
  for (const r of ctx.sql.oldestQueued.all() as { queue: string; run_at: number | null }[]) {
    if (r.run_at !== null) tally.waitingSince(r.queue, r.run_at);
  }
  return tally.result();
}

export function cancel(ctx: SqliteContext, id: string): Job {
  const now = ctx.clock();
  const advance = new WorkflowAdvance(ctx, now);
  const { job, agentId } = ctx.db.transaction(() => {
    const row = jobRow(ctx, id);
    if (!row) throw new NotFoundError(`job ${id} not found`, 'JOB_NOT_FOUND');
    if (FINAL_STATES.has(row.state as JobState)) {
      throw new ConflictError(`job ${id} is already ${row.state}`, 'JOB_FINISHED', { state: row.state });
    }
    // A leased job's attempt ends with the job: its record is the job row (see getAttempts).
    const cancelled = ctx.sql.cancelJob.get({ now, id }) as JobRow;
    // A step cancelled on its own is a step that did not succeed: its workflow advances.
    if (cancelled.workflow_id !== null) advance.finished(id, cancelled.workflow_id, 'cancelled');
    advance.settle();
    return { job: jobOf(ctx, cancelled), agentId: row.agent_id };
  })();
  ctx.events.emit({ type: 'cancelled', jobId: id, agentId });
  advance.emit();
  return job;
}
