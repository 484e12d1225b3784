import type { Job, JobState, NewJob } from '@baton/core';
import { ConflictError, newJobId } from '@baton/core';

/** The states a job may be retried from: it ran its course, one way or the other. */
export const RETRYABLE_STATES: readonly JobState[] = ['failed', 'cancelled', 'succeeded'];

/**
 * Why a job cannot be retried on its own, or null when it can: it has not finished yet, or it is
 * a workflow step (a step's inputs and dependants belong to its workflow, which retries it).
 */
export function retryRefusal(job: Job): ConflictError | null {
  if (job.workflow !== undefined) {
    return new ConflictError(
      `job ${job.id} is step ${job.workflow.step} of workflow ${job.workflow.id}: retry the workflow from this step`,
      'WORKFLOW_STEP',
      { workflowId: job.workflow.id, step: job.workflow.step },
    );
  }
  if (!RETRYABLE_STATES.includes(job.state)) {
    return new ConflictError(
      `job ${job.id} is ${job.state}; only a failed, cancelled or succeeded job can be retried`,
      'JOB_NOT_FINISHED',
      { state: job.state },
    );
  }
  return null;
}

/**
 * A new job doing what `job` did: same queue, task, owner, payload, priority, resources,
 * constraints, attempts, backoff and timeout; runnable now, with no idempotency key (the old
 * job holds it). `maxAttempts` is the job's as stored, which preemptions may have raised.
 */
export function retryOf(job: Job, now: number): NewJob {
  return {
    id: newJobId(now),
    queue: job.queue,
    task: job.task,
    owner: job.owner,
    payload: job.payload,
    priority: job.priority,
    priorityLevel: job.priorityLevel,
    resources: { ...job.resources },
    constraints: { tags: [...job.constraints.tags] },
    maxAttempts: job.maxAttempts,
    backoffMs: job.backoffMs,
    timeoutMs: job.timeoutMs,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
  };
}
