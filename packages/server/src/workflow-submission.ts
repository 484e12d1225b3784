import type { NewStep, NewWorkflow, WorkflowStepSubmission } from '@baton/core';
import {
  BatonError,
  DEFAULT_MAX_STEPS,
  ValidationError,
  checkWorkflowGraph,
  describeIssues,
  newJobId,
  quoteInput,
  workflowStepSchema,
  workflowSubmissionSchema,
} from '@baton/core';
import { jobFromFields } from './submission.js';
import type { TaskRoutes } from './task-routes.js';

export interface WorkflowSubmissionContext {
  owner: string;
  routes: TaskRoutes;
  maxPayloadBytes: number;
  now: number;
}

/**
 * Turns one untrusted workflow submission into a workflow the store can take, or throws the 4xx
 * error of the first thing wrong, naming its step (`steps[3] ("ocr")`). Checked whole, in the
 * order a person fixes things: the envelope, each step's fields, the graph (duplicate ids,
 * unknown needs, cycles), then each step as a job (payload, task and queue): nothing is stored
 * unless every step is good.
 */
export async function workflowFromSubmission(body: unknown, ctx: WorkflowSubmissionContext): Promise<NewWorkflow> {
  const parsed = workflowSubmissionSchema.safeParse(body);
  if (!parsed.success) {
    const { message, details } = describeIssues(parsed.error);
    throw new ValidationError(message, details);
  }
  const w = parsed.data;
  const maxSteps = w.maxSteps ?? DEFAULT_MAX_STEPS;
  if (w.steps.length > maxSteps) {
    throw new ValidationError(
      `the workflow has ${w.steps.length} steps, more than its maxSteps of ${maxSteps}`,
      { steps: w.steps.length, maxSteps },
      'TOO_MANY_STEPS',
    );
  }
  const id = newJobId(ctx.now);
  const steps = await stepsFromSpecs(w.steps, { ...ctx, workflowId: id, existingNeeds: false });
  return {
    id,
    owner: ctx.owner,
    name: w.name ?? null,
    onFailure: w.onFailure ?? 'fail-fast',
    maxSteps,
    idempotencyKey: w.idempotencyKey ?? null,
    createdAt: ctx.now,
    steps,
  };
}

/** What {@link stepsFromSpecs} needs besides the submission context. */
export interface StepsContext extends WorkflowSubmissionContext {
  workflowId: string;
  /**
   * Whether a need may name a step outside `specs`: a running workflow's existing step, which
   * the store checks (UNKNOWN_STEP) when the steps are added. False for a new workflow.
   */
  existingNeeds: boolean;
}

/**
 * Turns untrusted step specs into the store's steps, each made exactly as a job submission
 * makes a job (defaults, task and queue routes, payload limits), or throws the first 4xx error
 * naming its step: each step's fields, then the graph among them (duplicate ids, unknown needs,
 * cycles), then each step as a job. A new workflow and a running one's added steps (a campaign)
 * both come through here, so a step is the same whichever way it arrives.
 */
export async function stepsFromSpecs(specs: readonly unknown[], ctx: StepsContext): Promise<NewStep[]> {
  const steps = specs.map((raw, i) => parseStep(raw, i));
  const links = steps.map((s) => ({ id: s.id, needs: s.needs ?? [] }));
  // Needs outside the list may name existing steps: counted known here, checked by the store.
  const ids = new Set(links.map((s) => s.id));
  const outside = ctx.existingNeeds ? new Set(links.flatMap((s) => s.needs).filter((n) => !ids.has(n))) : undefined;
  checkWorkflowGraph(links, outside);
  const out: NewStep[] = [];
  for (const [i, s] of steps.entries()) {
    const { id: step, needs = [], ...fields } = s;
    let job;
    try {
      job = await jobFromFields(fields, {
        owner: ctx.owner,
        routes: ctx.routes,
        maxPayloadBytes: ctx.maxPayloadBytes,
        now: ctx.now,
      });
    } catch (err) {
      throw inStep(err, i, step);
    }
    out.push({ step, needs, job: { ...job, workflow: { id: ctx.workflowId, step, needs } } });
  }
  return out;
}

/** Where a step is, for messages: `steps[3] ("ocr")`, or `steps[3]` before its id is known good. */
function stepLabel(i: number, id: unknown): string {
  return typeof id === 'string' ? `steps[${i}] (${quoteInput(id, 40)})` : `steps[${i}]`;
}

/** Parses one step, so that its errors name it (the envelope's schema leaves steps unparsed). */
function parseStep(raw: unknown, i: number): WorkflowStepSubmission {
  const parsed = workflowStepSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const id = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
  // Details name fields by path (`steps.3.task`); the message names the step by its id too.
  const { details } = describeIssues(parsed.error, `steps.${i}`);
  const { message } = describeIssues(parsed.error);
  throw new ValidationError(`${stepLabel(i, id)}: ${message}`, {
    step: typeof id === 'string' ? id : null,
    issues: details,
  });
}

/** The same error, its message naming the step and its details saying which step it is. */
function inStep(err: unknown, i: number, step: string): unknown {
  if (!(err instanceof BatonError)) return err;
  const details =
    typeof err.details === 'object' && err.details !== null && !Array.isArray(err.details)
      ? { ...err.details, step }
      : { step, ...(err.details !== undefined && { issues: err.details }) };
  return new BatonError(err.code, `${stepLabel(i, step)}: ${err.message}`, err.httpStatus, details, err.retryable);
}
