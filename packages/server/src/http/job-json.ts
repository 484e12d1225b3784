import type { Job, JobAttempt } from '@baton/core';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

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
    createdAt: iso(job.createdAt),
    runAt: iso(job.runAt),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    updatedAt: iso(job.updatedAt),
    ...(history && {
      history: history.map((a) => ({
        attempt: a.attempt,
        agentId: a.agentId,
        outcome: a.outcome,
        error: a.error,
        assignedAt: iso(a.assignedAt),
        startedAt: iso(a.startedAt),
        finishedAt: iso(a.finishedAt),
      })),
    }),
  };
}
