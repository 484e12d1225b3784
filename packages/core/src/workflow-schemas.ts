import { z } from 'zod';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './limits.js';
import { identifierOf, jobFields, nameOf, ownerSchema } from './schemas.js';
import { MAX_WORKFLOW_STEPS, ON_FAILURE, WORKFLOW_STATES } from './workflow.js';

/** The API's input contracts for workflows; strict, like the job schemas. */

export const stepIdSchema = nameOf('step id', 100);

/** One step: a job's fields plus an id and the steps it needs. */
export const workflowStepSchema = z.strictObject({
  id: stepIdSchema,
  ...jobFields,
  needs: z
    .array(stepIdSchema)
    .max(MAX_WORKFLOW_STEPS, `a step may need at most ${MAX_WORKFLOW_STEPS} steps`)
    .optional(),
});
export type WorkflowStepSubmission = z.infer<typeof workflowStepSchema>;

export const workflowSubmissionSchema = z.strictObject({
  name: identifierOf('name', 200).optional(),
  steps: z
    .array(z.unknown())
    .min(1, 'steps must hold at least one step')
    .max(MAX_WORKFLOW_STEPS, `a workflow holds at most ${MAX_WORKFLOW_STEPS} steps`),
  onFailure: z.enum(ON_FAILURE).optional(),
  maxSteps: z.number().int().min(1, 'maxSteps must be at least 1').max(MAX_WORKFLOW_STEPS).optional(),
  idempotencyKey: identifierOf('idempotencyKey', 200).optional(),
});
/** Steps are parsed one by one (`workflowStepSchema`) so an error names its step. */
export type WorkflowSubmission = z.infer<typeof workflowSubmissionSchema>;

export const workflowRetrySchema = z.strictObject({
  from: stepIdSchema.optional(),
});

export const listWorkflowsQuerySchema = z.strictObject({
  state: z.enum(WORKFLOW_STATES).optional(),
  owner: ownerSchema.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
  cursor: identifierOf('cursor', 200).optional(),
});
export type ListWorkflowsQuery = z.infer<typeof listWorkflowsQuerySchema>;
