import type { LeaseRef, NewStep, NewWorkflow, Workflow, WorkflowState, WorkflowStep } from '@baton/core';

/**
 * Workflows in the store. A workflow's steps are jobs created with it, `blocked` until every
 * step they need has succeeded; the transitions that finish a job (`complete`, `release`,
 * `expireLeases`, `cancel`, `cancelWorkflow`) advance its workflow in the same atomic step,
 * so a crash can never leave a workflow stuck or a step released twice:
 *
 * - A step that succeeds releases each dependent whose needs have now all succeeded:
 *   `blocked → queued`, with `inputs` = the results of its needs by step id (an `enqueued`
 *   event names their queues).
 * - A step that ends without success (`failed`, `cancelled`, `skipped`) makes every blocked
 *   step that needs it, directly or not, end `skipped` (error `NEED_UNSUCCESSFUL`). Under
 *   `fail-fast`, every other unfinished step is then cancelled (error `WORKFLOW_FAILED`;
 *   a leased one's lease is revoked and a `cancelled` event tells its agent).
 * - When no step is unfinished, the workflow ends: `cancelled` if `cancelWorkflow` ended it,
 *   `succeeded` if every step succeeded, else `failed`.
 *
 * The workflow's `counts` change in the same step. Retention (`deleteFinished`) never deletes
 * a step's job: a retry may need its result.
 */
export interface Workflows {
  /**
   * Creates a workflow and all its steps' jobs (steps without needs `queued`, the rest
   * `blocked`) in one atomic step. A workflow whose (owner, idempotencyKey) exists is not
   * created again: the existing one is returned with `created: false`. The edge has checked
   * the graph; the store trusts it.
   */
  createWorkflow(workflow: NewWorkflow): Promise<{ workflow: Workflow; created: boolean }>;
  getWorkflow(id: string): Promise<Workflow | null>;
  /** Newest first; `cursor` is the `nextCursor` of the previous page. */
  listWorkflows(query: WorkflowListQuery): Promise<WorkflowPage>;
  /**
   * A page of a workflow's steps in the order they were created: at most `limit`, after the
   * step whose job id is `after`. An unknown workflow has none.
   */
  workflowSteps(id: string, page: { after?: string; limit: number }): Promise<WorkflowStep[]>;
  /**
   * Cancels every unfinished step (error `WORKFLOW_CANCELLED`; leased ones get a `cancelled`
   * event) and ends the workflow `cancelled`, in one atomic step. `NotFoundError`
   * (`WORKFLOW_NOT_FOUND`) for an unknown id; `ConflictError` (`WORKFLOW_FINISHED`) when it has ended.
   */
  cancelWorkflow(id: string): Promise<Workflow>;
  /**
   * Runs part of an ended workflow again, in one atomic step: the step `from` and every step
   * that needs it, directly or not; without `from`, every step that did not succeed and every
   * step that needs one of them. Each of those steps goes back to `blocked` (or `queued`, its
   * needs all outside the set, with their stored results as `inputs`), its result and error
   * cleared, with a fresh budget of attempts (its `maxAttempts` counted from the attempts it
   * has had; the history is kept). Every other step keeps its state, result and attempts.
   * The workflow is `running` again.
   *
   * Errors, and nothing changes: `NotFoundError` (`WORKFLOW_NOT_FOUND`, or `STEP_NOT_FOUND` for
   * an unknown `from`); `ConflictError` `WORKFLOW_RUNNING` while it runs, `NOTHING_TO_RETRY`
   * when every step succeeded and no `from` is given, and `NEED_UNSUCCESSFUL` when a step to
   * re-run needs a step outside the set that did not succeed (its `details.step` and `need`).
   */
  retryWorkflow(id: string, from?: string): Promise<Workflow>;
  /**
   * Grows a running workflow (a campaign's next iteration), in one atomic step, on behalf of
   * one of its steps that holds a current lease (`by`: its job id and lease token). New steps'
   * needs may name existing steps and each other; each new step is counted in the workflow's
   * `steps` and, by its needs:
   * - every need succeeded: `queued` at once, with their results as `inputs`;
   * - a need unfinished: `blocked`, released as any step is;
   * - a need that ended without success (possible under `continue`): `skipped` at once, with
   *   the steps that need it.
   * Steps' jobs belong to the workflow's owner.
   *
   * Errors, and nothing changes: `NotFoundError` `WORKFLOW_NOT_FOUND`; `ConflictError`
   * `WORKFLOW_FINISHED` when it has ended, `NOT_A_STEP` when `by` is no step of it, and the
   * lease refusal's code (`CANCELLED`, `FINISHED`, `STALE_LEASE`) when `by`'s lease is not
   * current; `ConflictError` `MAX_STEPS` when the workflow would hold more than `maxSteps`;
   * `ValidationError` `DUPLICATE_STEP` for a step id it has already, `UNKNOWN_STEP` for a need
   * that names no step, `WORKFLOW_CYCLE` for a cycle among the new steps, and
   * `VALIDATION_FAILED` for a job whose owner or workflow is not the workflow's.
   */
  addSteps(id: string, by: LeaseRef, steps: NewStep[]): Promise<{ workflow: Workflow; steps: WorkflowStep[] }>;
}

export interface WorkflowListQuery {
  state?: WorkflowState;
  owner?: string;
  limit: number;
  cursor?: string;
}

export interface WorkflowPage {
  workflows: Workflow[];
  nextCursor: string | null;
}
