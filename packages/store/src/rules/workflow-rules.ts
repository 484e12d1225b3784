import type { BatonError, JobState, LeaseRef, NewStep, Workflow } from '@baton/core';
import { ConflictError, ValidationError } from '@baton/core';
import { refusalFor } from './lease-rules.js';

/** Workflow checks every backend shares, so all of them refuse the same way. */

/**
 * addSteps' checks that need only the workflow: the new jobs are the workflow's owner's and
 * name it, and the workflow stays within its `maxSteps`.
 */
export function checkAddedSteps(workflow: Workflow, steps: readonly NewStep[]): void {
  for (const s of steps) {
    if (s.job.owner !== workflow.owner || s.job.workflow?.id !== workflow.id || s.job.workflow.step !== s.step) {
      throw new ValidationError(`step ${s.step}'s job must belong to workflow ${workflow.id} and its owner`);
    }
  }
  if (workflow.counts.steps + steps.length > workflow.maxSteps) {
    throw new ConflictError(
      `workflow ${workflow.id} holds ${workflow.counts.steps} steps; ${steps.length} more would pass its maxSteps (${workflow.maxSteps})`,
      'MAX_STEPS',
      { steps: workflow.counts.steps, adding: steps.length, maxSteps: workflow.maxSteps },
    );
  }
}

/** Why the step growing a workflow may not (its lease is not current), as an error; null when it may. */
export function refusalError(
  by: LeaseRef,
  job: { state: JobState; leaseToken: string | null; leaseExpiresAt?: number | null } | null,
): BatonError | null {
  const refused = refusalFor(by, job);
  if (!refused || refused.ok) return null;
  return new ConflictError(refused.message, refused.code === 'NOT_FOUND' ? 'NOT_A_STEP' : refused.code);
}
