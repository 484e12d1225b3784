import type { Job, JobState } from '@baton/core';
import { BatonError, FINAL_STATES, JOB_STATES } from '@baton/core';
import type { JobListQuery, Store } from '@baton/store';
import { RETRYABLE_STATES, retryOf, retryRefusal } from './job-retry.js';
import type { SubmitLimits } from './quota/submit-limits.js';

/** Which jobs a bulk action looks at: the listing's filters, with the owner already scoped. */
export interface BulkFilter {
  state?: JobState | undefined;
  queue?: string | undefined;
  task?: string | undefined;
  owner?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
}

export interface BulkResult {
  /** Jobs the filter matched (up to `max`). */
  matched: number;
  /** Jobs cancelled or retried (with `dryRun`, that would be). */
  acted: number;
  /** Matched jobs not acted on: in a state the action does not apply to, a workflow step, or changed meanwhile. */
  skipped: number;
  /** More jobs matched than `max`: run it again for the rest. */
  truncated: boolean;
}

/** Jobs read per listing call, and acted on per store call: bounded however many match. */
const PAGE = 200;
/** Cancels in flight at once. */
const CANCEL_CONCURRENCY = 16;

/**
 * Pages of the jobs matching `filter` in `states` (each state through its own index), newest
 * first within each, `max` jobs at most. `truncated()` says, once done, whether more matched.
 */
class Matching {
  truncated = false;

  constructor(
    private readonly store: Store,
    private readonly filter: BulkFilter,
    private readonly states: readonly JobState[],
    private readonly max: number,
  ) {}

  private query(state: JobState, limit: number, cursor?: string): JobListQuery {
    const f = this.filter;
    return {
      state,
      limit,
      ...(f.queue !== undefined && { queue: f.queue }),
      ...(f.task !== undefined && { task: f.task }),
      ...(f.owner !== undefined && { owner: f.owner }),
      ...(f.since !== undefined && { createdSince: f.since }),
      ...(f.until !== undefined && { createdBefore: f.until }),
      ...(cursor !== undefined && { cursor }),
    };
  }

  async *pages(): AsyncGenerator<Job[]> {
    let seen = 0;
    for (const [i, state] of this.states.entries()) {
      let cursor: string | undefined;
      do {
        if (seen >= this.max) {
          // Anything further (this state's next page, a later state's first) is past the cap.
          this.truncated = cursor !== undefined || (await this.anyIn(this.states.slice(i)));
          return;
        }
        const page = await this.store.listJobs(this.query(state, Math.min(PAGE, this.max - seen), cursor));
        seen += page.jobs.length;
        if (page.jobs.length > 0) yield page.jobs;
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
    }
  }

  /** Whether any job in `states` matches (a short task page with a cursor counts as maybe: yes). */
  private async anyIn(states: readonly JobState[]): Promise<boolean> {
    for (const state of states) {
      const page = await this.store.listJobs(this.query(state, 1));
      if (page.jobs.length > 0 || page.nextCursor !== null) return true;
    }
    return false;
  }
}

/** The states an action looks in: the one asked for, else those it applies to. */
function statesFor(filter: BulkFilter, applies: readonly JobState[]): readonly JobState[] {
  return filter.state !== undefined ? [filter.state] : applies;
}

const CANCELLABLE: readonly JobState[] = JOB_STATES.filter((s) => !FINAL_STATES.has(s));

/**
 * Cancels the jobs matching `filter` that are not final, in pages; others are skipped, as is a
 * job that finished between its listing and its cancel. `onCancelled` sees each cancelled job.
 */
export async function bulkCancel(
  store: Store,
  filter: BulkFilter,
  options: { max: number; dryRun: boolean; onCancelled?: (job: Job) => void },
): Promise<BulkResult> {
  const matching = new Matching(store, filter, statesFor(filter, CANCELLABLE), options.max);
  let matched = 0;
  let acted = 0;
  for await (const page of matching.pages()) {
    matched += page.length;
    const targets = page.filter((j) => !FINAL_STATES.has(j.state));
    if (options.dryRun) {
      acted += targets.length;
      continue;
    }
    for (let i = 0; i < targets.length; i += CANCEL_CONCURRENCY) {
      const done = await Promise.all(targets.slice(i, i + CANCEL_CONCURRENCY).map((j) => cancelled(store, j.id)));
      for (const job of done) {
        if (job === null) continue;
        acted += 1;
        options.onCancelled?.(job);
      }
    }
  }
  return { matched, acted, skipped: matched - acted, truncated: matching.truncated };
}

/** The cancelled job, or null when it was final (or gone) by the time its cancel came. */
async function cancelled(store: Store, id: string): Promise<Job | null> {
  try {
    return await store.cancel(id);
  } catch (err) {
    if (err instanceof BatonError && (err.code === 'JOB_FINISHED' || err.code === 'JOB_NOT_FOUND')) return null;
    throw err;
  }
}

/**
 * Retries the final jobs matching `filter` (not workflow steps, which their workflow retries):
 * each gets a new job doing the same (`retryOf`). Quotas apply as for a bulk submission, per
 * owner and for all of it before anything is submitted, so a refusal (429) changes nothing:
 * a first pass counts what would be retried (that is the dry run), a second submits it.
 */
export async function bulkRetry(
  store: Store,
  limits: SubmitLimits,
  filter: BulkFilter,
  options: { max: number; dryRun: boolean; now: () => number },
): Promise<BulkResult> {
  const states = statesFor(filter, RETRYABLE_STATES);
  const counting = new Matching(store, filter, states, options.max);
  let matched = 0;
  const chosen = new Set<string>();
  const perOwner = new Map<string, number>();
  for await (const page of counting.pages()) {
    matched += page.length;
    for (const job of page) {
      if (retryRefusal(job) !== null) continue;
      chosen.add(job.id);
      perOwner.set(job.owner, (perOwner.get(job.owner) ?? 0) + 1);
    }
  }
  const result = { matched, acted: chosen.size, skipped: matched - chosen.size, truncated: counting.truncated };
  if (options.dryRun || chosen.size === 0) return result;
  for (const [owner, n] of perOwner) await limits.admit(owner, n);
  // The same listing again: final jobs stay as they are, so it meets the same ones (retention
  // may have deleted some meanwhile: those are skipped).
  let acted = 0;
  for await (const page of new Matching(store, filter, states, options.max).pages()) {
    const retried = page.filter((j) => chosen.delete(j.id)).map((j) => retryOf(j, options.now()));
    if (retried.length > 0) acted += (await store.enqueue(retried)).length;
    if (chosen.size === 0) break;
  }
  return { ...result, acted, skipped: matched - acted };
}
