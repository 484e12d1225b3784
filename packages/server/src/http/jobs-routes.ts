import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { AgentCapacity, NewJob } from '@baton/core';
import type { Job, JobState } from '@baton/core';
import {
  BatonError,
  JOB_STATES,
  PayloadTooLargeError,
  ValidationError,
  bulkSubmissionSchema,
  describeIssues,
  listJobsQuerySchema,
} from '@baton/core';
import type { Store } from '@baton/store';
import { isAdmin, mayActOn } from '../auth/principal.js';
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
 * A job the request may see: an admin's any, a user's only their own. Another user's job is
 * answered exactly like one that does not exist, so its existence is not revealed.
 */
async function visibleJob(store: Store, request: FastifyRequest, id: string): Promise<Job> {
  const job = await store.getJob(id);
  if (!job || !mayActOn(request.principal, job.owner))
    throw new BatonError('JOB_NOT_FOUND', `job ${id} not found`, 404);
  return job;
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

  const single = { bodyLimit: singleBodyLimit, errorHandler: namingBodyLimit(singleBodyLimit, maxPayloadBytes) };
  app.post('/api/jobs', single, async (request, reply) => {
    const job = await jobFromSubmission(request.body, {
      owner: request.owner,
      routes,
      maxPayloadBytes,
      now: Date.now(),
    });
    await options.limits.admit(request.owner, 1);
    const [result] = await store.enqueue([job]);
    if (!result) throw new BatonError('INTERNAL', 'store returned no result', 500);
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
    const parsed = listJobsQuerySchema.safeParse(request.query);
    if (!parsed.success)
      throw new ValidationError(describeIssues(parsed.error).message, describeIssues(parsed.error).details);
    const query = parsed.data;
    if (!isAdmin(request.principal)) {
      if (query.owner !== undefined && query.owner !== request.principal.name)
        throw new BatonError('FORBIDDEN', 'a user lists only their own jobs (owner must be left out or be you)', 403);
      query.owner = request.principal.name;
    }
    const page = await store.listJobs(query);
    return { jobs: page.jobs.map((j) => jobJson(j)), nextCursor: page.nextCursor };
  });

  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', async (request) => {
    const id = jobIdOf(request);
    const before = await visibleJob(store, request, id);
    const job = await store.cancel(id);
    if (before.state !== 'cancelled') options.metrics?.finished(job.queue, job.state);
    return jobJson(job);
  });

  // An admin sees every job's counts; a user the same queues with their own jobs' counts.
  // `oldestQueuedAgeMs` is the queue's (how long its longest waiter has waited), for everyone.
  app.get('/api/queues', async (request) => {
    const stats = await store.queueStats();
    if (isAdmin(request.principal)) {
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

function zeroCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
}
