import type { Job, JobState, NewJob } from '@baton/core';
import type { Store } from './contract.js';

/** The states copied: work not yet finished. Finished jobs stay in the old store as history. */
export const COPIED_STATES: readonly JobState[] = ['delayed', 'queued', 'assigned', 'running'];

export interface CopyProgress {
  state: JobState;
  /** Jobs of this state read from the source so far. */
  read: number;
  /** Of those, created in the target (the rest were there already). */
  copied: number;
}

export interface CopyResult {
  read: number;
  copied: number;
  skipped: number;
  routes: number;
}

/**
 * Copies unfinished jobs and the task routes from one store to another, keeping ids, owners,
 * priorities, resources and idempotency keys, so a deployment can move from SQLite to
 * PostgreSQL or Redis. Jobs an agent held (`assigned`, `running`) arrive `queued` and run again:
 * stop the old servers first. Attempt history stays behind. Jobs already in the target (by id)
 * are skipped, so a copy that stopped halfway can be run again.
 */
export async function copyUnfinishedJobs(
  from: Store,
  to: Store,
  options: { batch?: number; now?: number; onProgress?: (p: CopyProgress) => void } = {},
): Promise<CopyResult> {
  const batch = options.batch ?? 500;
  const now = options.now ?? Date.now();
  const result: CopyResult = { read: 0, copied: 0, skipped: 0, routes: 0 };
  const routes = await from.taskRoutes();
  await to.registerTasks(routes);
  result.routes = routes.length;
  for (const state of COPIED_STATES) {
    const progress: CopyProgress = { state, read: 0, copied: 0 };
    let cursor: string | undefined;
    do {
      const page = await from.listJobs({ state, limit: batch, ...(cursor !== undefined && { cursor }) });
      cursor = page.nextCursor ?? undefined;
      const present = await Promise.all(page.jobs.map((job) => to.getJob(job.id)));
      const missing = page.jobs.filter((_, i) => present[i] === null).map((job) => newJobOf(job, now));
      if (missing.length > 0) {
        const created = await to.enqueue(missing);
        const n = created.filter((r) => r.created).length;
        progress.copied += n;
        result.skipped += missing.length - n;
      }
      result.skipped += page.jobs.length - missing.length;
      progress.read += page.jobs.length;
      options.onProgress?.({ ...progress });
    } while (cursor !== undefined);
    result.read += progress.read;
    result.copied += progress.copied;
  }
  return result;
}

function newJobOf(job: Job, now: number): NewJob {
  return {
    id: job.id,
    queue: job.queue,
    task: job.task,
    owner: job.owner,
    payload: job.payload,
    priority: job.priority,
    priorityLevel: job.priorityLevel,
    resources: job.resources,
    constraints: job.constraints,
    maxAttempts: job.maxAttempts,
    backoffMs: job.backoffMs,
    timeoutMs: job.timeoutMs,
    // A delayed job keeps its time; the rest are due now.
    runAt: job.state === 'delayed' ? job.runAt : Math.min(job.runAt, now),
    idempotencyKey: job.idempotencyKey,
    createdAt: job.createdAt,
  };
}
