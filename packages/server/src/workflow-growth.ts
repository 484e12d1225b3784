import type { AddStepsRequest, AddedSteps, Job, Workflow } from '@baton/core';
import { ConflictError, FINAL_STATES, LEASED_STATES, NotFoundError } from '@baton/core';
import type { Store } from '@baton/store';
import type { SubmitLimits } from './quota/submit-limits.js';
import type { TaskRoutes } from './task-routes.js';
import { stepsFromSpecs } from './workflow-submission.js';

export interface WorkflowGrowthOptions {
  store: Store;
  routes: TaskRoutes;
  maxPayloadBytes: number;
  limits: SubmitLimits;
}

/**
 * Grows running workflows (campaigns) on behalf of one of their steps: what an agent's
 * `addSteps` and `POST /api/workflows/:id/steps` both do. The steps are made exactly as a
 * workflow submission makes them (workflow-submission.ts), owned by the workflow's owner, and
 * count against that owner's submit limits as submitted jobs do; the store then adds them in one
 * atomic step, checking the lease, `maxSteps`, clashing ids and unknown needs against what it
 * holds. Anything refused changes nothing.
 */
export class WorkflowGrowth {
  constructor(private readonly options: WorkflowGrowthOptions) {}

  async add(request: AddStepsRequest): Promise<AddedSteps> {
    const { store, routes, maxPayloadBytes, limits } = this.options;
    const { workflowId, jobId, leaseToken, steps: specs } = request;
    const workflow = await store.getWorkflow(workflowId);
    if (!workflow) throw new NotFoundError(`workflow ${workflowId} not found`, 'WORKFLOW_NOT_FOUND');
    // Cheap checks before the steps are looked at or the owner's quota is drawn on: a caller who
    // is no running step of this workflow learns nothing of its tasks and costs its owner nothing.
    // The store checks all of them again, with the lease token, in its atomic step.
    checkRunning(workflow);
    checkGrower(await store.getJob(jobId), workflowId, jobId);
    checkRoom(workflow, specs.length);
    const now = Date.now();
    const steps = await stepsFromSpecs(specs, {
      owner: workflow.owner,
      routes,
      maxPayloadBytes,
      now,
      workflowId,
      existingNeeds: true,
    });
    // Each new step is a submitted job of the owner's, as in a submission (workflows-routes.ts):
    // growing a workflow must not be a way around the rate or maxQueuedJobs.
    await limits.admit(workflow.owner, steps.length);
    return store.addSteps(workflowId, { jobId, leaseToken }, steps);
  }
}

function checkRunning(workflow: Workflow): void {
  if (workflow.state !== 'running') {
    throw new ConflictError(`workflow ${workflow.id} has already ended (${workflow.state})`, 'WORKFLOW_FINISHED', {
      state: workflow.state,
    });
  }
}

/** Refuses a job that is no step of the workflow, or one that holds no lease (the store's codes). */
function checkGrower(job: Job | null, workflowId: string, jobId: string): void {
  if (job?.workflow?.id !== workflowId) {
    throw new ConflictError(`job ${jobId} is not a step of workflow ${workflowId}`, 'NOT_A_STEP');
  }
  if (job.state === 'cancelled') throw new ConflictError(`job ${jobId} was cancelled`, 'CANCELLED');
  if (FINAL_STATES.has(job.state)) throw new ConflictError(`job ${jobId} is already ${job.state}`, 'FINISHED');
  if (!LEASED_STATES.has(job.state)) {
    throw new ConflictError(`lease on job ${jobId} is no longer valid (the job is ${job.state})`, 'STALE_LEASE');
  }
}

function checkRoom(workflow: Workflow, adding: number): void {
  if (workflow.counts.steps + adding > workflow.maxSteps) {
    throw new ConflictError(
      `workflow ${workflow.id} holds ${workflow.counts.steps} steps; ${adding} more would pass its maxSteps (${workflow.maxSteps})`,
      'MAX_STEPS',
      { steps: workflow.counts.steps, adding, maxSteps: workflow.maxSteps },
    );
  }
}
