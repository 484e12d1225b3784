import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Workflow } from '@baton/core';
import {
  BatonError,
  ValidationError,
  describeIssues,
  listWorkflowsQuerySchema,
  workflowRetrySchema,
} from '@baton/core';
import type { Store } from '@baton/store';
import type { Principal } from '../auth/principal.js';
import { mayActOn, maySeeAll, mayView } from '../auth/principal.js';
import type { SubmitLimits } from '../quota/submit-limits.js';
import type { TaskRoutes } from '../task-routes.js';
import { workflowFromSubmission } from '../workflow-submission.js';
import { workflowIdOf } from './job-id.js';
import { namingBodyLimit } from './jobs-routes.js';
import { workflowJson, workflowStepJson } from './workflow-json.js';

export interface WorkflowsRoutesOptions {
  store: Store;
  routes: TaskRoutes;
  maxPayloadBytes: number;
  /** A workflow's body may be as large as a bulk submission's: 10 000 steps must fit. */
  maxBulkBodyBytes: number;
  limits: SubmitLimits;
}

/** Steps `GET /api/workflows/:id` shows when `stepsLimit` is not given, and the most it shows. */
export const DEFAULT_STEPS_PAGE = 200;
export const MAX_STEPS_PAGE = 1000;

/**
 * The query of `GET /api/workflows/:id`: a page of its steps in creation order. `stepsCursor` is
 * the `stepsCursor` of the previous answer (the job id of its last step), null when no more.
 */
const workflowQuerySchema = z.strictObject({
  stepsLimit: z.coerce.number().int().min(1).max(MAX_STEPS_PAGE).default(DEFAULT_STEPS_PAGE),
  stepsCursor: z
    .string()
    .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'stepsCursor must be the stepsCursor of the previous answer')
    .optional(),
});

function parsed<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const { message, details } = describeIssues(result.error);
    throw new ValidationError(message, details);
  }
  return result.data;
}

/**
 * A workflow the request may see (or, with `mayActOn`, change): an admin's or viewer's any, a
 * user's only their own. Another user's is answered exactly like one that does not exist, as
 * jobs are.
 */
async function visibleWorkflow(
  store: Store,
  request: FastifyRequest,
  id: string,
  may: (p: Principal, owner: string) => boolean = mayView,
): Promise<Workflow> {
  const workflow = await store.getWorkflow(id);
  if (!workflow || !may(request.principal, workflow.owner))
    throw new BatonError('WORKFLOW_NOT_FOUND', `workflow ${id} not found`, 404);
  return workflow;
}

/** `/api/workflows`: submit, show (with a page of steps), list, cancel and retry workflows. */
export function registerWorkflowsRoutes(app: FastifyInstance, options: WorkflowsRoutesOptions): void {
  const { store, routes, maxPayloadBytes } = options;
  const bodyLimit = {
    bodyLimit: options.maxBulkBodyBytes,
    errorHandler: namingBodyLimit(options.maxBulkBodyBytes, maxPayloadBytes),
  };

  app.post('/api/workflows', bodyLimit, async (request, reply) => {
    const workflow = await workflowFromSubmission(request.body, {
      owner: request.owner,
      routes,
      maxPayloadBytes,
      now: Date.now(),
    });
    // Every step counts as a submitted job, against both the rate and maxQueuedJobs: the steps
    // are created at once and each will wait in a queue (blocked ones only later), so a
    // workflow is as much work as a bulk submission of its steps, and must not be a way around
    // the quota. One larger than maxQueuedJobs is refused (QUOTA_EXCEEDED) like such a bulk.
    // Once stored, the owner's waiting count (the store's `waitingJobs`) holds its blocked steps
    // too, so workflows waiting on their needs count against later submissions.
    await options.limits.admit(request.owner, workflow.steps.length);
    const { workflow: stored, created } = await store.createWorkflow(workflow);
    return reply.status(created ? 201 : 200).send({ ...workflowJson(stored), created });
  });

  app.get<{ Params: { id: string } }>('/api/workflows/:id', async (request) => {
    const id = workflowIdOf(request);
    const query = parsed(workflowQuerySchema, request.query);
    const workflow = await visibleWorkflow(store, request, id);
    // One more than the page, to tell whether another page follows without a second read.
    const steps = await store.workflowSteps(id, {
      ...(query.stepsCursor !== undefined && { after: query.stepsCursor }),
      limit: query.stepsLimit + 1,
    });
    const page = steps.slice(0, query.stepsLimit);
    const more = steps.length > query.stepsLimit;
    return {
      ...workflowJson(workflow),
      steps: page.map(workflowStepJson),
      stepsCursor: more ? (page[page.length - 1]?.jobId ?? null) : null,
    };
  });

  app.get('/api/workflows', async (request) => {
    const query = parsed(listWorkflowsQuerySchema, request.query);
    if (!maySeeAll(request.principal)) {
      if (query.owner !== undefined && query.owner !== request.principal.name)
        throw new BatonError(
          'FORBIDDEN',
          'a user lists only their own workflows (owner must be left out or be you)',
          403,
        );
      query.owner = request.principal.name;
    }
    const page = await store.listWorkflows(query);
    return { workflows: page.workflows.map(workflowJson), nextCursor: page.nextCursor };
  });

  app.post<{ Params: { id: string } }>('/api/workflows/:id/cancel', async (request) => {
    const id = workflowIdOf(request);
    await visibleWorkflow(store, request, id, mayActOn);
    return workflowJson(await store.cancelWorkflow(id));
  });

  app.post<{ Params: { id: string } }>('/api/workflows/:id/retry', async (request) => {
    const id = workflowIdOf(request);
    // A retry of everything that did not succeed may be sent without a body.
    const { from } = parsed(workflowRetrySchema, request.body ?? {});
    await visibleWorkflow(store, request, id, mayActOn);
    return workflowJson(await store.retryWorkflow(id, from));
  });
}
