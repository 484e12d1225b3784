import type { Job, JobAttempt, NewJob } from '@baton/core';
import type { EnqueueResult } from '../contract.js';
import { enqueuedEvent, initialState, resendFreedKeys } from '../rules/enqueue-rules.js';
import { STATUS, cancelError } from './codes.js';
import type { RedisContext } from './context.js';
import {
  ENQUEUE_FIELDS,
  PAYLOAD_AT,
  attemptOfRecord,
  currentAttempt,
  enqueueRow,
  hashOf,
  jobOfHash,
  jobOfNewJob,
} from './job-hash.js';
import { SEP } from './keys.js';
import { callScript } from './scripts.js';
import { emitWorkflowEvents } from './workflow-events.js';

/** Jobs in Redis: enqueue (enqueue.lua), reads and cancel (cancel.lua); listings are in listing.ts. */

export async function enqueue(ctx: RedisContext, jobs: NewJob[]): Promise<EnqueueResult[]> {
  const now = ctx.clock();
  const k = ctx.keys;
  const rows = jobs.map(enqueueRow);
  const states = jobs.map((job) => initialState(job, now));
  const enqueueKeys = [...k.jobIndexes, k.idempotency, k.byQueue, k.byOwner, k.all, k.queues];
  const head = [ENQUEUE_FIELDS.length, ...ENQUEUE_FIELDS];
  const send = async (indexes: number[]): Promise<[number, string][]> => {
    const flat = await ctx.batchScript(indexes, 'enqueue', enqueueKeys, head, (j, _, args) => {
      const job = jobs[j]!;
      args.push(
        states[j]!,
        job.idempotencyKey === null ? '' : `${job.owner}${SEP}${job.idempotencyKey}`,
        job.timeoutMs === null ? '' : String(job.timeoutMs),
      );
      for (const value of rows[j]!) args.push(value);
    });
    return indexes.map((_, n) => [Number(flat[2 * n]), String(flat[2 * n + 1])]);
  };
  const replies = await send(jobs.map((_, j) => j));
  // Jobs an idempotency key already named are read back (a second round trip, only for them).
  // One that deleteFinished removed in between has freed its key: that job is sent again.
  const existing = new Map<string, Job>();
  const named = (j: number): boolean => replies[j]![0] === 0;
  await resendFreedKeys(
    replies.flatMap((r, j) => (named(j) ? [j] : [])),
    async (todo) => {
      const wanted = [...new Set(todo.map((j) => replies[j]![1]).filter((id) => id && !existing.has(id)))];
      const found = await ctx.batch((p) => {
        for (const id of wanted) p.hgetall(k.job(id));
      });
      const gone = new Set<string>();
      wanted.forEach((id, n) => {
        const h = hashOf(found[n]);
        if (h.id === undefined) gone.add(id);
        else existing.set(id, jobOfHash(h));
      });
      const again = todo.filter((j) => gone.has(replies[j]![1]));
      if (again.length === 0) return [];
      const more = await send(again);
      again.forEach((j, n) => (replies[j] = more[n]!));
      return again.filter(named);
    },
  );
  const results = replies.map((reply, i): EnqueueResult => {
    if (reply[0] === 0) return { job: existing.get(reply[1])!, created: false };
    return { job: jobOfNewJob(jobs[i]!, states[i]!, rows[i]![PAYLOAD_AT]!), created: true };
  });
  const event = enqueuedEvent(createdJobs(results));
  if (event) ctx.emit(event);
  return results;
}

/** The jobs an enqueue created, for its event. */
function* createdJobs(results: readonly EnqueueResult[]): Iterable<Job> {
  for (const r of results) if (r.created) yield r.job;
}

export async function getJob(ctx: RedisContext, id: string): Promise<Job | null> {
  const h = hashOf(await ctx.client.hgetall(ctx.keys.job(id)));
  return h.id === undefined ? null : jobOfHash(h);
}

export async function getAttempts(ctx: RedisContext, id: string): Promise<JobAttempt[]> {
  const [records, hash] = await ctx.batch((p) => {
    p.lrange(ctx.keys.attempts(id), 0, -1);
    p.hgetall(ctx.keys.job(id));
  });
  const attempts = (records as string[]).map(attemptOfRecord);
  const h = hashOf(hash);
  const current = h.id === undefined ? null : currentAttempt(h, attempts.length);
  if (current) attempts.push(current);
  return attempts.sort((a, b) => a.attempt - b.attempt);
}

export async function cancel(ctx: RedisContext, id: string): Promise<Job> {
  const now = ctx.clock();
  const [status, agentOrState, flat, events] = (await callScript(ctx.client, 'cancel', ctx.keys.jobIndexes, [
    now,
    id,
  ])) as [number, string?, unknown?, unknown?];
  if (status !== STATUS.OK) throw cancelError(id, status, agentOrState ?? '');
  ctx.emit({ type: 'cancelled', jobId: id, agentId: agentOrState || null });
  // A step's cancel may have skipped or (fail-fast) cancelled others of its workflow.
  emitWorkflowEvents(ctx, [events]);
  return jobOfHash(hashOf(flat));
}
