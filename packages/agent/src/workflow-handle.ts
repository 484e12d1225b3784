import type { AddStepsRequest, AddedSteps, JobAssignment, StepSpec } from '@baton/core';
import { BatonError } from '@baton/core';

/**
 * How a step reaches the server to grow its workflow: the agent's link, and the server's HTTP
 * URL for what the step runs in another process (a command), when the agent knows one.
 */
export interface WorkflowGrowthLink {
  addSteps(request: AddStepsRequest): Promise<AddedSteps>;
  apiUrl(): string | undefined;
}

/**
 * What a step may hand to a process it runs so that it can grow the workflow over HTTP:
 * `POST {apiUrl}/api/workflows/{workflowId}/steps` with `{jobId, leaseToken, steps}`. A narrow
 * capability: it adds steps to this workflow only, and only while this attempt holds its lease.
 */
export interface StepCredential {
  workflowId: string;
  jobId: string;
  leaseToken: string;
  /** The server's base URL (`http://host:7070`); undefined when the agent knows none. */
  apiUrl: string | undefined;
}

/**
 * `ctx.workflow` of a step: where it is (`id`, `step`), and the way to grow its workflow (a
 * campaign: a step that decides what runs next adds it). The link and lease are kept in private
 * fields, so the handle compares and serializes as `{id, step}`.
 */
export class WorkflowHandle {
  readonly id: string;
  readonly step: string;
  readonly #jobId: string;
  readonly #leaseToken: string;
  readonly #link: WorkflowGrowthLink | undefined;

  constructor(assignment: JobAssignment, link: WorkflowGrowthLink | undefined) {
    const { job, leaseToken } = assignment;
    if (!job.workflow) throw new TypeError(`job ${job.id} is not a workflow step`);
    this.id = job.workflow.id;
    this.step = job.workflow.step;
    this.#jobId = job.id;
    this.#leaseToken = leaseToken;
    this.#link = link;
  }

  /**
   * Adds steps to this workflow while this step runs: each in the JSON shape of a step of
   * `POST /api/workflows` (`{id, task, payload?, needs?, …}`); `needs` may name existing steps
   * and each other. Checked whole as a submission is, then added in one atomic step; resolves
   * to the workflow and the new steps (`step`, `jobId`, `state`: `blocked` until their needs
   * succeed, `queued` when they all have). Rejects with a `BatonError` whose `code` says why
   * (`DUPLICATE_STEP`, `UNKNOWN_STEP`, `WORKFLOW_CYCLE`, `MAX_STEPS`, `UNKNOWN_TASK`,
   * `PAYLOAD_TOO_LARGE`, `STALE_LEASE` once this attempt has ended…); nothing is added then.
   */
  add(steps: readonly StepSpec[]): Promise<AddedSteps> {
    if (!this.#link) {
      return Promise.reject(new BatonError('NOT_SUPPORTED', "this agent's link cannot add steps to a workflow", 501));
    }
    return this.#link.addSteps({
      workflowId: this.id,
      jobId: this.#jobId,
      leaseToken: this.#leaseToken,
      steps,
    });
  }

  /** What a process this step runs needs to grow the workflow over HTTP; hand it to nothing else. */
  credential(): StepCredential {
    return {
      workflowId: this.id,
      jobId: this.#jobId,
      leaseToken: this.#leaseToken,
      apiUrl: this.#link?.apiUrl(),
    };
  }
}
