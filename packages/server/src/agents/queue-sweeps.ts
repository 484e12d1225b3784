import type { PendingJob } from '@baton/core';
import { comparePending, priorityRank } from '@baton/core';
import type { PendingCursor, PendingRequest, Store } from '@baton/store';

/**
 * How many queued jobs beyond a queue's free slots one pass considers when its head does not
 * all place: half from the head (whose blocked GPU jobs hold agents), half from a page further
 * down that moves on each pass (see {@link Sweep}).
 */
const LOOK_PAST = 256;
const HEAD_PAST = LOOK_PAST / 2;
const PAGE = LOOK_PAST - HEAD_PAST;

/**
 * Where a queue's sweep past its head stands. Jobs that fit nowhere (1 000 GPU jobs larger
 * than any agent) can fill any bounded head, so each pass also reads one page after a cursor;
 * the cursor moves a page on when the page placed nothing, and wraps at the queue's end. Every
 * queued job is thus looked at within ⌈backlog / PAGE⌉ passes, each reading a bounded number
 * of jobs, while the head keeps its reservations. A page that placed something is read again
 * (its placed jobs are gone), so a queue's runnable jobs are found again at once when room frees.
 */
interface Sweep {
  /** The last job of the previous page; null: the next page follows the head. */
  after: PendingCursor | null;
  /** Whether a page placed a job since the cursor last wrapped. */
  placed: boolean;
  /**
   * A whole round placed nothing and no room came back since: the cursor then moves a page per
   * wake-up instead of in a run of passes, so a backlog nothing fits costs no more than that.
   */
  idle: boolean;
}

/**
 * The scheduler's sweeps past queue heads, per queue (see {@link Sweep}): which queues to read
 * further, the read itself, and where each cursor goes after a pass.
 */
export class QueueSweeps {
  private readonly sweeps = new Map<string, Sweep>();

  /** Room came back (or agents changed): sweeps that found nothing to place may run again. */
  roomChanged(): void {
    for (const sweep of this.sweeps.values()) sweep.idle = false;
  }

  /** The queues that gave as many jobs as asked: more may wait behind them. */
  fullQueues(pending: readonly { queue: string }[], requests: readonly PendingRequest[]): Set<string> {
    const counts = new Map<string, number>();
    for (const job of pending) counts.set(job.queue, (counts.get(job.queue) ?? 0) + 1);
    return new Set(requests.filter((r) => (counts.get(r.queue) ?? 0) >= r.limit).map((r) => r.queue));
  }

  /**
   * Reads past the head of the queues whose head did not all place: the head again with
   * {@link HEAD_PAST} more jobs, and a page of {@link PAGE} jobs after the queue's sweep cursor
   * (or, with no cursor, the page right after the head, in the same read). Jobs of the other
   * queues stay as first read. Returns the jobs, each once, and each swept queue's page.
   */
  async readPastHeads(
    store: Store,
    first: readonly PendingJob[],
    requests: readonly PendingRequest[],
    full: ReadonlySet<string>,
  ): Promise<{ pending: PendingJob[]; pages: Map<string, PendingJob[]> }> {
    const asked: PendingRequest[] = [];
    for (const r of requests) {
      if (!full.has(r.queue)) continue;
      const after = this.sweeps.get(r.queue)?.after ?? null;
      if (after === null) asked.push({ queue: r.queue, limit: r.limit + HEAD_PAST + PAGE });
      else asked.push({ queue: r.queue, limit: r.limit + HEAD_PAST }, { queue: r.queue, limit: PAGE, after });
    }
    const read = await store.pending(asked);
    // The first read stays whole: under fair share it holds each owner's head, which a read
    // past the queue's head (in plain order) may not reach.
    const seen = new Set<string>(first.map((j) => j.id));
    const pending: PendingJob[] = [...first];
    const byQueue = new Map<string, PendingJob[]>();
    const readOnce = new Set<string>();
    for (const job of read) {
      if (readOnce.has(job.id)) continue; // the head and the page overlap when the cursor is in the head
      readOnce.add(job.id);
      if (!seen.has(job.id)) {
        seen.add(job.id);
        pending.push(job);
      }
      let list = byQueue.get(job.queue);
      if (!list) byQueue.set(job.queue, (list = []));
      list.push(job);
    }
    // A queue's page: the first PAGE jobs after its cursor (the head may hold some of them), or
    // those read past its head when it had no cursor.
    const pages = new Map<string, PendingJob[]>();
    for (const r of requests) {
      if (!full.has(r.queue)) continue;
      const jobs = byQueue.get(r.queue) ?? [];
      const after = this.sweeps.get(r.queue)?.after ?? null;
      pages.set(
        r.queue,
        after === null
          ? jobs.slice(r.limit + HEAD_PAST)
          : jobs
              .filter((j) => compareToCursor(j, after) > 0)
              .sort(comparePending)
              .slice(0, PAGE),
      );
    }
    return { pending, pages };
  }

  /**
   * Moves each swept queue's cursor: on past a page that placed nothing, back to the head at
   * the queue's end. Returns true when a sweep should go on at once (another pass).
   */
  advance(pages: ReadonlyMap<string, PendingJob[]>, placed: ReadonlySet<string>): boolean {
    let more = false;
    for (const [queue, page] of pages) {
      let sweep = this.sweeps.get(queue);
      if (!sweep) this.sweeps.set(queue, (sweep = { after: null, placed: false, idle: false }));
      if (page.some((j) => placed.has(j.id))) {
        sweep.placed = true; // read this page again: its placed jobs leave room for the next ones
        sweep.idle = false;
        continue;
      }
      const last = page[page.length - 1];
      if (page.length < PAGE || !last) {
        // The queue's end: start again after the head, at once only if this round placed work.
        more ||= sweep.placed;
        sweep.idle = !sweep.placed;
        sweep.after = null;
        sweep.placed = false;
        continue;
      }
      sweep.after = { priority: last.priority, priorityLevel: last.priorityLevel, id: last.id };
      more ||= !sweep.idle;
    }
    return more;
  }
}

/** Where a job stands against a sweep cursor in scheduling order (negative: before it). */
function compareToCursor(job: PendingJob, cursor: PendingCursor): number {
  return (
    priorityRank(job.priority) - priorityRank(cursor.priority) ||
    cursor.priorityLevel - job.priorityLevel ||
    (job.id < cursor.id ? -1 : job.id > cursor.id ? 1 : 0)
  );
}
