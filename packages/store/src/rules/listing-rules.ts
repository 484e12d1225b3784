import type { Job, JobState } from '@baton/core';
import { JOB_STATES, ValidationError, jobIdFloor } from '@baton/core';
import type { JobListQuery, JobPage, QueueStats } from '../contract.js';

/** How every backend reads a listing's query and pages its answer, and counts its queues. */

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))
    throw new ValidationError('cursor is not one this API returned', undefined, 'INVALID_CURSOR');
  return id;
}

/** A listing's filters checked: a known state (backends write it into queries as a literal), the cursor's id. */
export interface ListFilter {
  state: JobState | undefined;
  queue: string | undefined;
  owner: string | undefined;
  /** Checked on the jobs scanned, at most {@link TASK_SCAN_WINDOW} per call. */
  task: string | undefined;
  /** Jobs with ids below this one: the last of the page before, or `createdBefore`'s floor. */
  before: string | null;
  /** Jobs with ids at or above this one: `createdSince`'s floor. */
  from: string | null;
  /** Jobs in the page: a whole number, 0 or more. */
  limit: number;
}

/** Jobs a listing filtered by `task` looks at per call at most (see `JobListQuery`). */
export const TASK_SCAN_WINDOW = 2000;

export function listFilter(query: JobListQuery): ListFilter {
  if (query.state && !JOB_STATES.includes(query.state)) throw new ValidationError(`unknown job state "${query.state}"`);
  for (const [name, value] of [
    ['createdSince', query.createdSince],
    ['createdBefore', query.createdBefore],
  ] as const) {
    if (value !== undefined && !Number.isFinite(value)) throw new ValidationError(`${name} must be a finite number`);
  }
  const cursor = query.cursor ? decodeCursor(query.cursor) : null;
  const until = query.createdBefore === undefined ? null : jobIdFloor(query.createdBefore);
  // Ids of one length in one alphabet sort as strings: the lower bound of the two wins.
  const before = cursor === null ? until : until === null || cursor < until ? cursor : until;
  return {
    state: query.state || undefined,
    queue: query.queue || undefined,
    owner: query.owner || undefined,
    task: query.task || undefined,
    before,
    from: query.createdSince === undefined ? null : jobIdFloor(query.createdSince),
    limit: Math.max(0, Math.trunc(query.limit)),
  };
}

/**
 * Which jobs of a window scanned for a `task` listing (id and task, newest first; at most
 * {@link TASK_SCAN_WINDOW}) make the page: up to `limit + 1` matching ids, and the cursor of a
 * short page when the window was full without filling the page (null: read the page with
 * {@link pageOf} as usual).
 */
export function taskWindow(
  scanned: readonly { id: string; task: string }[],
  task: string,
  limit: number,
): { ids: string[]; shortCursor: string | null } {
  const ids: string[] = [];
  for (const s of scanned) {
    if (s.task !== task) continue;
    ids.push(s.id);
    if (ids.length > limit) return { ids, shortCursor: null };
  }
  const last = scanned[scanned.length - 1];
  return { ids, shortCursor: scanned.length >= TASK_SCAN_WINDOW && last ? encodeCursor(last.id) : null };
}

/** A page, or a short one ending where a bounded scan stopped (`shortCursor`). */
export function windowPage(jobs: readonly Job[], limit: number, shortCursor: string | null): JobPage {
  return shortCursor === null ? pageOf(jobs, limit) : { jobs: jobs.slice(0, limit), nextCursor: shortCursor };
}

/**
 * A page of a listing from up to `limit + 1` jobs, newest first: the one past the page only
 * says there is more, and the cursor names the page's last job.
 */
export function pageOf(jobs: readonly Job[], limit: number): JobPage {
  const page = jobs.slice(0, limit);
  const last = page[page.length - 1];
  return { jobs: page, nextCursor: jobs.length > limit && last ? encodeCursor(last.id) : null };
}

export function emptyCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
}

/**
 * queueStats as every backend answers it: a queue appears when a live route names it or it
 * has jobs; counts default to zero, the wait to null; queues in name order.
 */
export class QueueStatsTally {
  private readonly stats = new Map<string, QueueStats>();

  constructor(private readonly now: number) {}

  /** A queue's entry, made on first mention (a live route's queue is listed with no jobs). */
  queue(queue: string): QueueStats {
    let s = this.stats.get(queue);
    if (!s) this.stats.set(queue, (s = { queue, counts: emptyCounts(), oldestQueuedAgeMs: null }));
    return s;
  }

  count(queue: string, state: JobState, n: number): void {
    this.queue(queue).counts[state] = n;
  }

  /** The queue's oldest queued job became runnable at `since`. */
  waitingSince(queue: string, since: number): void {
    this.queue(queue).oldestQueuedAgeMs = Math.max(0, this.now - since);
  }

  /** Queues with queued jobs, for backends that read each one's oldest in a second step. */
  waiting(): QueueStats[] {
    return [...this.stats.values()].filter((s) => s.counts.queued > 0);
  }

  result(): QueueStats[] {
    return [...this.stats.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }
}
