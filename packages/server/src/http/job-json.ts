import type { Job, JobAttempt } from '@baton/core';

/** The furthest a JavaScript Date reaches either side of 1970 (ECMA-262: ±8.64e15 ms). */
const DATE_RANGE_MS = 8.64e15;

/**
 * A stored time as ISO 8601. The API never stores a time a Date cannot hold, but a row written
 * by an older Baton or straight into the store may; such a time is clamped to the nearest one a
 * Date holds (and one that is no number at all is null), so one bad row never fails a listing.
 */
export function isoTime(t: number | null): string | null {
  if (typeof t !== 'number' || Number.isNaN(t)) return null;
  return new Date(Math.min(DATE_RANGE_MS, Math.max(-DATE_RANGE_MS, t))).toISOString();
}

/** The public JSON form of a job: times as ISO 8601, internal lease fields left out. */
export function jobJson(job: Job, history?: JobAttempt[]): Record<string, unknown> {
  return {
    id: job.id,
    queue: job.queue,
    task: job.task,
    owner: job.owner,
    state: job.state,
    priority: job.priority,
    priorityLevel: job.priorityLevel,
    resources: job.resources,
    constraints: job.constraints,
    payload: job.payload,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    backoffMs: job.backoffMs,
    timeoutMs: job.timeoutMs,
    idempotencyKey: job.idempotencyKey,
    progress: job.progress,
    result: job.result,
    error: job.error,
    agentId: job.agentId,
    gpus: job.gpus,
    createdAt: isoTime(job.createdAt),
    runAt: isoTime(job.runAt),
    startedAt: isoTime(job.startedAt),
    finishedAt: isoTime(job.finishedAt),
    updatedAt: isoTime(job.updatedAt),
    // Only a workflow's steps carry these, so a plain job's JSON is as it always was.
    ...(job.workflow && { workflow: job.workflow }),
    ...(job.inputs !== undefined && { inputs: job.inputs }),
    ...(history && {
      history: history.map((a) => ({
        attempt: a.attempt,
        agentId: a.agentId,
        outcome: a.outcome,
        error: a.error,
        assignedAt: isoTime(a.assignedAt),
        startedAt: isoTime(a.startedAt),
        finishedAt: isoTime(a.finishedAt),
      })),
    }),
  };
}
