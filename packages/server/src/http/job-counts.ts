import type { JobState } from '@baton/core';
import { JOB_STATES } from '@baton/core';
import type { Store } from '@baton/store';

export function zeroCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
}

/**
 * Jobs by state, of one queue or all, of one owner or everyone's: summed from the store's
 * kept counts (per queue, and per owner and queue), never by reading jobs, so it costs the
 * same with a million jobs as with ten.
 */
export async function jobCounts(
  store: Store,
  filter: { queue?: string | undefined; owner?: string | undefined },
): Promise<{ counts: Record<JobState, number>; total: number }> {
  const perQueue =
    filter.owner === undefined ? await store.queueStats() : (await store.ownerUsage(filter.owner)).queues;
  const counts = zeroCounts();
  for (const q of perQueue) {
    if (filter.queue !== undefined && q.queue !== filter.queue) continue;
    for (const state of JOB_STATES) counts[state] += q.counts[state];
  }
  return { counts, total: JOB_STATES.reduce((sum, state) => sum + counts[state], 0) };
}
