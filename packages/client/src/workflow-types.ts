import type { JobError, JobState, OnFailure, WorkflowCounts, WorkflowState } from '@baton/core';
import type { SubmitOptions } from './types.js';

export type { OnFailure, WorkflowCounts, WorkflowState };

/**
 * One step of a workflow submission: a job's fields (as `submit` takes them, less the time and
 * key, which belong to the workflow), its id within the workflow and the steps it `needs`.
 */
export interface WorkflowStepRequest extends Omit<SubmitOptions, 'delayMs' | 'runAt' | 'idempotencyKey'> {
  /** Unique within the workflow: letters, digits and `_ . : -`, at most 100 characters. */
  id: string;
  task: string;
  payload?: unknown;
  /** Ids of the steps that must succeed before this one runs; their results become its inputs. */
  needs?: string[];
}

/** The body of `POST /api/workflows`; `defineWorkflow(...).build()` makes one. */
export interface WorkflowRequest {
  name?: string;
  /** At least one, at most 10 000. */
  steps: WorkflowStepRequest[];
  /** Default `fail-fast`: a step that does not succeed cancels the rest. `continue`: only its dependents are skipped. */
  onFailure?: OnFailure;
  /** Most steps the workflow may hold. Default 10 000. */
  maxSteps?: number;
  /** The same key (per owner) answers the workflow made first instead of making another. */
  idempotencyKey?: string;
}

/** A workflow as the API returns it (times as ISO 8601). */
export interface WorkflowView {
  id: string;
  name: string | null;
  owner: string;
  /** `running` until no step is unfinished. */
  state: WorkflowState;
  onFailure: OnFailure;
  maxSteps: number;
  idempotencyKey: string | null;
  /** Steps in all, and how many ended in each final state. */
  counts: WorkflowCounts;
  createdAt: string;
  finishedAt: string | null;
  updatedAt: string;
}

/** The answer of `submitWorkflow`: the workflow, and whether this call made it. */
export interface SubmittedWorkflow extends WorkflowView {
  /** False when a workflow with this `idempotencyKey` existed: it is that one. */
  created: boolean;
}

/** One step as `getWorkflow` lists it; its job (`getJob(jobId)`) has the rest. */
export interface WorkflowStepView {
  step: string;
  jobId: string;
  task: string;
  queue: string;
  needs: string[];
  /** `blocked` while a need is unfinished; `skipped` when a need did not succeed. */
  state: JobState;
  attempts: number;
  error: JobError | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A workflow with a page of its steps, in the order they were created. */
export interface WorkflowDetailView extends WorkflowView {
  steps: WorkflowStepView[];
  /** Pass as `stepsCursor` for the next page of steps; null when this page is the last. */
  stepsCursor: string | null;
}

export interface WorkflowStepsPage {
  /** Steps per page, 1–1000. Default 200. */
  stepsLimit?: number;
  /** The `stepsCursor` of the previous page. */
  stepsCursor?: string;
}

export interface WorkflowListQuery {
  state?: WorkflowState;
  /** An admin may list one user's; a user only their own (the default). */
  owner?: string;
  limit?: number;
  cursor?: string;
}

export interface WaitForWorkflowOptions {
  pollMs?: number;
  signal?: AbortSignal;
  /** Sees the workflow (with its first page of steps) at every change of its or a step's state. */
  onUpdate?: (workflow: WorkflowDetailView) => void;
}
