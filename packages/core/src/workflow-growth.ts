import { z } from 'zod';
import type { Workflow, WorkflowStep } from './workflow.js';
import { MAX_WORKFLOW_STEPS } from './workflow.js';
import type { workflowStepSchema } from './workflow-schemas.js';

/**
 * Growing a running workflow (a campaign): one of its steps, while it holds its lease, adds
 * steps to it. Agents ask over their link (`AgentLink.addSteps`, the wire's `addSteps`); a
 * command step over HTTP (`POST /api/workflows/:id/steps`). Both carry the step's job id and
 * current lease token, the only credential: a lease ends with its attempt, so a step can grow
 * its workflow only while it runs.
 */

/**
 * One step to add, in the JSON shape of a step of `POST /api/workflows` (`{id, task, payload?,
 * needs?, queue?, priority?, resources?, …}`). `needs` may name existing steps and other new ones.
 */
export type StepSpec = z.input<typeof workflowStepSchema>;

/** What an agent sends to grow a workflow; the steps are checked by the server as submitted ones are. */
export interface AddStepsRequest {
  workflowId: string;
  /** The step that grows the workflow: its job id and current lease token. */
  jobId: string;
  leaseToken: string;
  steps: readonly unknown[];
}

/** The answer: the workflow as it is now, and each new step (`step`, `jobId`, `state`, …) in the order given. */
export interface AddedSteps {
  workflow: Workflow;
  steps: WorkflowStep[];
}

/** Most steps one call may add: as many as a workflow may hold. */
export const MAX_ADDED_STEPS = MAX_WORKFLOW_STEPS;

const ulid = z
  .string()
  .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be an id of 26 characters, like 01JDB5Q2X8W6K7C3V9M4N0P1R2');

/** The fields both the wire message and the HTTP body carry; each step is parsed later, on its own. */
export const addStepsFields = {
  jobId: ulid,
  leaseToken: z.string().min(1, 'leaseToken must not be empty').max(100, 'leaseToken is at most 100 characters'),
  steps: z
    .array(z.unknown(), 'steps must be an array of steps')
    .min(1, 'steps must hold at least one step')
    .max(MAX_ADDED_STEPS, `at most ${MAX_ADDED_STEPS} steps may be added at once`),
};

/** The wire's `addSteps` message carries the workflow's id too (HTTP has it in the path). */
export const addStepsWireFields = { workflowId: ulid, ...addStepsFields };

/** The body of `POST /api/workflows/:id/steps`: the step's job id and lease token, and the steps to add. */
export const addStepsBodySchema = z.strictObject(addStepsFields);
