import type { FastifyInstance } from 'fastify';
import { ValidationError, bulkActionSchema, describeIssues } from '@baton/core';
import type { BulkAction } from '@baton/core';
import type { Store } from '@baton/store';
import { mayActOn } from '../auth/principal.js';
import { bulkCancel, bulkRetry } from '../bulk-actions.js';
import type { BulkFilter } from '../bulk-actions.js';
import { retryOf, retryRefusal } from '../job-retry.js';
import type { JobMetrics } from '../metrics/job-metrics.js';
import type { SubmitLimits } from '../quota/submit-limits.js';
import { jobIdOf } from './job-id.js';
import { jobJson } from './job-json.js';
import { ownerScope, visibleJob } from './job-access.js';
import type { FastifyRequest } from 'fastify';

export interface JobActionsOptions {
  store: Store;
  limits: SubmitLimits;
  metrics?: JobMetrics | undefined;
}

/**
 * Retrying a finished job, and cancelling or retrying a filtered set of jobs at once. A user
 * acts on their own jobs, an admin on anyone's (a viewer is refused by the auth hook).
 */
export function registerJobActionsRoutes(app: FastifyInstance, options: JobActionsOptions): void {
  const { store, limits } = options;

  app.post<{ Params: { id: string } }>('/api/jobs/:id/retry', async (request, reply) => {
    const id = jobIdOf(request);
    const job = await visibleJob(store, request, id, mayActOn);
    const refusal = retryRefusal(job);
    if (refusal) throw refusal;
    await limits.admit(job.owner, 1);
    const [result] = await store.enqueue([retryOf(job, Date.now())]);
    if (!result) throw new Error('store returned no result');
    return reply.status(201).send({ job: jobJson(result.job), retryOf: id });
  });

  app.post('/api/jobs/bulk-cancel', async (request) => {
    const action = bulkActionOf(request.body);
    return bulkCancel(store, scopedFilter(request, action), {
      max: action.max,
      dryRun: action.dryRun,
      onCancelled: (job) => options.metrics?.finished(job.queue, job.state),
    });
  });

  app.post('/api/jobs/bulk-retry', async (request) => {
    const action = bulkActionOf(request.body);
    return bulkRetry(store, limits, scopedFilter(request, action), {
      max: action.max,
      dryRun: action.dryRun,
      now: Date.now,
    });
  });
}

function bulkActionOf(body: unknown): BulkAction {
  const parsed = bulkActionSchema.safeParse(body);
  if (!parsed.success) {
    const { message, details } = describeIssues(parsed.error);
    throw new ValidationError(message, details);
  }
  return parsed.data;
}

/** The action's filter, narrowed to the user's own jobs unless an admin sent it. */
function scopedFilter(request: FastifyRequest, action: BulkAction): BulkFilter {
  return { ...action.filter, owner: ownerScope(request, action.filter.owner) };
}
