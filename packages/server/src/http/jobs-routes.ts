import type { FastifyError, FastifyInstance } from 'fastify';
import type { AgentCapacity, NewJob } from '@baton/core';
import {
  PayloadTooLargeError,
  ValidationError,
  bulkSubmissionSchema,
  describeIssues,
  jobCountsQuerySchema,
  listJobsQuerySchema,
} from '@baton/core';
import type { Store } from '@baton/store';
import type { ZodSafeParseResult } from 'zod';
import { mayActOn, maySeeAll } from '../auth/principal.js';
import { ownerScope, visibleJob } from './job-access.js';
import type { SubmitLimits } from '../quota/submit-limits.js';
import { jobFromSubmission } from '../submission.js';
import type { TaskRoutes } from '../task-routes.js';
import type { SchedulerLoop } from '../agents/scheduler-loop.js';
import { explainPending } from '../agents/explain-pending.js';
import { jobIdOf } from './job-id.js';
import type { JobMetrics } from '../metrics/job-metrics.js';
import { jobJson } from './job-json.js';
import { expectedRuntimeOf } from '../estimates/expected-runtime.js';
import { registerLogsRoutes } from './logs-routes.js';
import { jobCounts, zeroCounts } from './job-counts.js';
import { SubmitBatcher } from '../submit-batcher.js';

export interface JobsRoutesOptions {
  store: Store;
  routes: TaskRoutes;
  maxPayloadBytes: number;
  maxBulkBodyBytes: number;
  scheduler: SchedulerLoop | null;
  /**
   * The whole fleet's agents: this server's and those the others report. Every server has it,
   * with a scheduler or without: a job's agents are often on another server.
   */
  fleetAgents: () => Promise<AgentCapacity[]>;
  /** Submit-side quotas (rate, jobs waiting), checked before anything is stored. */
  limits: SubmitLimits;
  /** Counts cancels (absent: metrics are off). */
  metrics?: JobMetrics | undefined;
}

/**
 * A route's error handler that names its body limit in the 413 (fastify's error does not);
 * every other error goes on to the API's handler.
 */
export function namingBodyLimit(limit: number, maxPayloadBytes: number) {
  return (err: FastifyError): never => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      throw new PayloadTooLargeError(
        `request body is over this endpoint's limit of ${limit} bytes (a job's payload may be at most ${maxPayloadBytes})`,
      );
    throw err;
  };
}

export function registerJobsRoutes(app: FastifyInstance, options: JobsRoutesOptions): void {
  const { store, routes, maxPayloadBytes } = options;
  // Room for the envelope around a payload of the largest allowed size.
  const singleBodyLimit = maxPayloadBytes + 64 * 1024;

  // Single submissions that arrive together share one store call (group commit).
  const batcher = new SubmitBatcher(store);
  const single = { bodyLimit: singleBodyLimit, errorHandler: namingBodyLimit(singleBodyLimit, maxPayloadBytes) };
  app.post('/api/jobs', single, async (request, reply) => {
    const job = await jobFromSubmission(request.body, {
      owner: request.owner,
      routes,
      maxPayloadBytes,
      now: Date.now(),
    });
    await options.limits.admit(request.owner, 1);
    const result = await batcher.submit(job);
    return reply
      .status(result.created ? 201 : 200)
      .send({ id: result.job.id, state: result.job.state, created: result.created });
  });

  const bulk = {
    bodyLimit: options.maxBulkBodyBytes,
    errorHandler: namingBodyLimit(options.maxBulkBodyBytes, maxPayloadBytes),
  };
  app.post('/api/jobs/bulk', bulk, async (request, reply) => {
    const parsed = bulkSubmissionSchema.safeParse(request.body);
    if (!parsed.success) {
      const { message, details } = describeIssues(parsed.error);
      throw new ValidationError(message, details);
    }
    const owner = request.owner;
    const now = Date.now();
    const jobs: NewJob[] = [];
    // Validate all before storing any: a bad job anywhere means nothing is written.
    for (const [i, body] of parsed.data.jobs.entries()) {
      jobs.push(await jobFromSubmission(body, { owner, routes, maxPayloadBytes, now, path: `jobs.${i}` }));
    }
    await options.limits.admit(owner, jobs.length);
    const results = await store.enqueue(jobs);
    return reply
      .status(201)
      .send({ jobs: results.map((r) => ({ id: r.job.id, state: r.job.state, created: r.created })) });
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (request) => {
    const id = jobIdOf(request);
    const job = await visibleJob(store, request, id);
    // The fleet's agents, as the scheduler places onto: with several servers, most are elsewhere.
    const agents = job.state !== 'queued' ? [] : await options.fleetAgents();
    const pendingReason = job.state === 'queued' ? explainPending(job, agents, options.scheduler) : null;
    const [attempts, expected] = await Promise.all([store.getAttempts(id), expectedRuntimeOf(store, job)]);
    return {
      ...jobJson(job, attempts),
      pendingReason,
      // Its timeout, else its class's learned runtime: a planning figure, never enforced.
      expectedRuntimeMs: expected.ms,
      expectedRuntimeSource: expected.source,
    };
  });

  app.get('/api/jobs', async (request) => {
    const { since, until, owner, ...query } = parsedQuery(listJobsQuerySchema, request.query);
    const scoped = ownerScope(request, owner);
    const page = await store.listJobs({
      ...query,
      ...(scoped !== undefined && { owner: scoped }),
      ...(since !== undefined && { createdSince: since }),
      ...(until !== undefined && { createdBefore: until }),
    });
    return { jobs: page.jobs.map((j) => jobJson(j)), nextCursor: page.nextCursor };
  });

  // Counts by state from the store's kept counts: a user's are their own, as in /api/queues.
  app.get('/api/jobs/counts', async (request) => {
    const query = parsedQuery(jobCountsQuerySchema, request.query);
    return jobCounts(store, { queue: query.queue, owner: ownerScope(request, query.owner) });
  });

  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', async (request) => {
    const id = jobIdOf(request);
    const before = await visibleJob(store, request, id, mayActOn);
    const job = await store.cancel(id);
    if (before.state !== 'cancelled') options.metrics?.finished(job.queue, job.state);
    return jobJson(job);
  });

  // An admin or viewer sees every job's counts; a user the same queues with their own jobs' counts.
  // `oldestQueuedAgeMs` is the queue's (how long its longest waiter has waited), for everyone.
  app.get('/api/queues', async (request) => {
    const stats = await store.queueStats();
    if (maySeeAll(request.principal)) {
      return {
        queues: stats.map((s) => ({ name: s.queue, counts: s.counts, oldestQueuedAgeMs: s.oldestQueuedAgeMs })),
      };
    }
    const own = new Map((await store.ownerUsage(request.principal.name)).queues.map((q) => [q.queue, q.counts]));
    return {
      queues: stats.map((s) => ({
        name: s.queue,
        counts: own.get(s.queue) ?? zeroCounts(),
        oldestQueuedAgeMs: s.oldestQueuedAgeMs,
      })),
    };
  });

  app.get('/api/tasks', async () => ({ tasks: await routes.list() }));

  registerLogsRoutes(app, { store });
}

/** A query string checked against its schema (400 `VALIDATION_FAILED` otherwise). */
export function parsedQuery<T>(schema: { safeParse(v: unknown): ZodSafeParseResult<T> }, query: unknown): T {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    const { message, details } = describeIssues(parsed.error);
    throw new ValidationError(message, details);
  }
  return parsed.data;
}
