import type { Workflow, WorkflowStep } from '@baton/core';
import { isoTime } from './job-json.js';

/** The public JSON form of a workflow: times as ISO 8601, like a job's. */
export function workflowJson(w: Workflow): Record<string, unknown> {
  return {
    id: w.id,
    name: w.name,
    owner: w.owner,
    state: w.state,
    onFailure: w.onFailure,
    maxSteps: w.maxSteps,
    idempotencyKey: w.idempotencyKey,
    counts: w.counts,
    createdAt: isoTime(w.createdAt),
    finishedAt: isoTime(w.finishedAt),
    updatedAt: isoTime(w.updatedAt),
  };
}

/** One step as `GET /api/workflows/:id` lists it: read from its job (`jobId` for the rest). */
export function workflowStepJson(s: WorkflowStep): Record<string, unknown> {
  return {
    step: s.step,
    jobId: s.jobId,
    task: s.task,
    queue: s.queue,
    needs: s.needs,
    state: s.state,
    attempts: s.attempts,
    error: s.error,
    createdAt: isoTime(s.createdAt),
    startedAt: isoTime(s.startedAt),
    finishedAt: isoTime(s.finishedAt),
  };
}
