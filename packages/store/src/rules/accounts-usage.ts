import type { JobState } from '@baton/core';
import { LEASED_STATES } from '@baton/core';
import type { OwnerUsage } from '../accounts.js';
import { emptyCounts } from './listing-rules.js';

/** One stored count of an owner's jobs: a queue, a state, how many, and their GPUs. */
export interface OwnerCount {
  queue: string;
  state: JobState;
  n: number;
  gpus: number;
}

/**
 * `ownerUsage` as every backend answers it, from the owner's per-queue, per-state counts: a
 * queue appears when the owner has a job in it (counts that dropped to zero are ignored), with
 * every state's count, queues in name order (as `queueStats` orders them).
 */
export function ownerUsageOf(owner: string, counts: Iterable<OwnerCount>): OwnerUsage {
  const queues = new Map<string, Record<JobState, number>>();
  let leasedJobs = 0;
  let leasedGpus = 0;
  let waitingJobs = 0;
  for (const { queue, state, n, gpus } of counts) {
    if (n <= 0) continue;
    let perState = queues.get(queue);
    if (!perState) {
      perState = emptyCounts();
      queues.set(queue, perState);
    }
    perState[state] += n;
    if (LEASED_STATES.has(state)) {
      leasedJobs += n;
      leasedGpus += gpus;
    } else if (state === 'queued' || state === 'delayed' || state === 'blocked') {
      waitingJobs += n;
    }
  }
  return {
    owner,
    queues: [...queues.keys()]
      .sort((a, b) => a.localeCompare(b))
      .map((queue) => ({ queue, counts: queues.get(queue)! })),
    leasedJobs,
    leasedGpus,
    waitingJobs,
  };
}
