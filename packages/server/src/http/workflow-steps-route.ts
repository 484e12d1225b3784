import type { FastifyInstance } from 'fastify';
import { ValidationError, addStepsBodySchema, describeIssues } from '@baton/core';
import type { WorkflowGrowth } from '../workflow-growth.js';
import { workflowIdOf } from './job-id.js';
import { namingBodyLimit } from './jobs-routes.js';
import { workflowJson, workflowStepJson } from './workflow-json.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `lease`: the route takes no bearer token; the body's job id and lease token are its
     * credential (see installAuthentication).
     */
    credential?: 'lease';
  }
}

export interface WorkflowStepsRouteOptions {
  growth: WorkflowGrowth;
  maxPayloadBytes: number;
  maxBulkBodyBytes: number;
}

/**
 * `POST /api/workflows/:id/steps`: a running step grows its workflow (a campaign) over HTTP,
 * for command steps, which get `BATON_JOB_ID`, `BATON_LEASE_TOKEN` and `BATON_API_URL`. The
 * lease token is the credential, not a bearer token: a command holds no user's token, and the
 * lease lets it grow only its own workflow, only while its attempt runs. The token is never
 * logged or echoed (request logging is off; no error names it).
 */
export function registerWorkflowStepsRoute(app: FastifyInstance, options: WorkflowStepsRouteOptions): void {
  const { growth, maxPayloadBytes, maxBulkBodyBytes } = options;
  app.post<{ Params: { id: string } }>(
    '/api/workflows/:id/steps',
    {
      config: { credential: 'lease' },
      // As large as a workflow submission's: a step may add as many steps as a workflow holds.
      bodyLimit: maxBulkBodyBytes,
      errorHandler: namingBodyLimit(maxBulkBodyBytes, maxPayloadBytes),
    },
    async (request, reply) => {
      const workflowId = workflowIdOf(request);
      const parsed = addStepsBodySchema.safeParse(request.body);
      if (!parsed.success) {
        const { message, details } = describeIssues(parsed.error);
        throw new ValidationError(message, details);
      }
      const added = await growth.add({ workflowId, ...parsed.data });
      return reply
        .status(201)
        .send({ workflow: workflowJson(added.workflow), steps: added.steps.map(workflowStepJson) });
    },
  );
}
