import type { Job, JobAttempt, JobState, NewJob } from '@baton/core';
import { ConflictError, FINAL_STATES, NotFoundError } from '@baton/core';
import type { EnqueueResult, JobListQuery, JobPage, QueueStats } from '../contract.js';
import { enqueuedEvent, firstOfEachKey, idempotencyKeyOf, resendFreedKeys } from '../rules/enqueue-rules.js';
import {
  QueueStatsTally,
  TASK_SCAN_WINDOW,
  listFilter,
  pageOf,
  taskWindow,
  windowPage,
} from '../rules/listing-rules.js';
import type { PostgresContext } from './context.js';
import type { AttemptRow, JobRow, StepJobRow } from './rows.js';
import { attemptFromRow, enqueueColumns, jobFromRow } from './rows.js';
import * as jobsSql from './sql/jobs.js';
import * as routesSql from './sql/routes.js';
import { cancelStep } from './workflow-cancel.js';

/** Jobs in PostgreSQL: enqueue, reads, listings, queue statistics and cancel. */

export async function enqueue(ctx: PostgresContext, jobs: NewJob[]): Promise<EnqueueResult[]> {
  if (jobs.length === 0) return [];
  const now = ctx.clock();
  // Only the first job of each (owner, key) in the batch is sent; repeats take its answer.
  const { sent, answer } = firstOfEachKey(jobs);
  const inserted = new Map<string, JobRow>();
  const existing = new Map<string, JobRow>();
  await resendFreedKeys(sent, async (todo) => {
    for (const row of await ctx.run<JobRow>(jobsSql.enqueue, [...enqueueColumns(todo), now])) {
      inserted.set(row.id, row);
    }
    const taken = todo.filter((j) => !inserted.has(j.id));
    if (taken.length === 0) return [];
    const rows = await ctx.run<JobRow>(jobsSql.getByIdempotencyKeys, [
      taken.map((j) => j.owner),
      taken.map((j) => j.idempotencyKey),
    ]);
    for (const row of rows)
      existing.set(idempotencyKeyOf({ owner: row.owner, idempotencyKey: row.idempotency_key ?? '' })!, row);
    return taken.filter((j) => !existing.has(idempotencyKeyOf(j)!));
  });
  const answers = sent.map((job): EnqueueResult => {
    const row = inserted.get(job.id);
    if (row) return { job: jobFromRow(row), created: true };
    const found = existing.get(idempotencyKeyOf(job)!);
    if (!found) throw new Error(`job ${job.id} was neither created nor found by its idempotency key`);
    return { job: jobFromRow(found), created: false };
  });
  const event = enqueuedEvent(createdJobs(inserted.values()));
  if (event) ctx.relay.publish(event);
  return answer(answers);
}

/** The rows an enqueue inserted, as its event needs them. */
function* createdJobs(rows: Iterable<JobRow>): Iterable<{ queue: string; state: JobState; runAt: number }> {
  for (const r of rows) yield { queue: r.queue, state: r.state as JobState, runAt: r.run_at };
}

export async function getJob(ctx: PostgresContext, id: string): Promise<Job | null> {
  const [row] = await ctx.run<StepJobRow>(jobsSql.getJob, [id]);
  return row ? jobFromRow(row) : null;
}

export async function getAttempts(ctx: PostgresContext, id: string): Promise<JobAttempt[]> {
  return (await ctx.run<AttemptRow>(jobsSql.getAttempts, [id])).map(attemptFromRow);
}

export async function listJobs(ctx: PostgresContext, query: JobListQuery): Promise<JobPage> {
  const q = listFilter(query);
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  // The state (checked by listFilter) is written as a literal so the planner can use that
  // state's partial index.
  if (q.state) where.push(`state = '${q.state}'`);
  if (q.queue) where.push(`queue = ${param(q.queue)}`);
  if (q.owner) where.push(`owner = ${param(q.owner)}`);
  if (q.before) where.push(`id < ${param(q.before)}`);
  if (q.from) where.push(`id >= ${param(q.from)}`);
  const filtered = `FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC`;
  if (q.task) {
    // No index on task: a bounded window of the other filters' jobs, then the page's rows.
    const scanned = (
      await ctx.pool.query<{ id: string; task: string }>(
        `SELECT id, task ${filtered} LIMIT ${param(TASK_SCAN_WINDOW)}`,
        values,
      )
    ).rows;
    const { ids, shortCursor } = taskWindow(scanned, q.task, q.limit);
    const rows =
      ids.length === 0
        ? []
        : (
            await ctx.pool.query<StepJobRow>(
              `SELECT j.*, s.* FROM (SELECT * FROM jobs WHERE id = ANY($1::text[])) j ${jobsSql.STEP_OF_JOB} ORDER BY j.id DESC`,
              [ids],
            )
          ).rows;
    return windowPage(rows.map(jobFromRow), q.limit, shortCursor);
  }
  // The page first, then the steps' rows of its jobs (none probed for a plain job).
  const sql = `SELECT j.*, s.* FROM (SELECT * ${filtered} LIMIT ${param(q.limit + 1)}) j ${jobsSql.STEP_OF_JOB} ORDER BY j.id DESC`;
  const rows = (await ctx.pool.query<StepJobRow>(sql, values)).rows;
  return pageOf(rows.map(jobFromRow), q.limit);
}

export async function queueStats(ctx: PostgresContext): Promise<QueueStats[]> {
  const now = ctx.clock();
  const [routes, counts] = await Promise.all([
    ctx.run<{ queue: string }>(routesSql.liveRouteQueues, [now]),
    ctx.run<{ queue: string; state: JobState; n: number }>(jobsSql.countByQueueState, []),
  ]);
  const waiting = counts.filter((r) => r.state === 'queued').map((r) => r.queue);
  const oldest =
    waiting.length > 0 ? await ctx.run<{ queue: string; since: number }>(jobsSql.oldestQueued, [waiting]) : [];
  const tally = new QueueStatsTally(now);
  for (const r of routes) tally.queue(r.queue);
  for (const r of counts) tally.count(r.queue, r.state, r.n);
  for (const r of oldest) tally.waitingSince(r.queue, r.since);
  return tally.result();
}

export async function cancel(ctx: PostgresContext, id: string): Promise<Job> {
  const now = ctx.clock();
  const [row] = await ctx.run<JobRow>(jobsSql.cancelJob, [now, id]);
  if (!row) {
    const [current] = await ctx.run<JobRow>(jobsSql.getJob, [id]);
    if (!current) throw new NotFoundError(`job ${id} not found`, 'JOB_NOT_FOUND');
    // A step is cancelled with its workflow locked, and advances it (workflow-cancel.ts).
    if (current.workflow_id !== null && !FINAL_STATES.has(current.state as JobState)) {
      return cancelStep(ctx, id, current.workflow_id);
    }
    throw new ConflictError(`job ${id} is already ${current.state}`, 'JOB_FINISHED', { state: current.state });
  }
  // Cancelling keeps agent_id: it names the agent holding the job, which must stop.
  ctx.relay.publish({ type: 'cancelled', jobId: id, agentId: row.agent_id });
  return jobFromRow(row);
}
