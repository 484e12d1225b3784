import type { AgentCapacity, PendingJob, PlacementResult } from './placement-types.js';
import { priorityRank } from './job.js';
import { PlacementPass } from './placement-pass.js';

/**
 * Placement: a pure function from (pending jobs, agents' free capacity) to assignments.
 * No I/O, no clock, so it can be tested and benchmarked on a simulated fleet. The store's
 * atomic assign re-checks every decision, so a stale view here costs a retry, never a
 * double assignment.
 */

/** Priority class first, then level (higher first), then id (time-ordered: FIFO). */
export function comparePending(a: PendingJob, b: PendingJob): number {
  return (
    priorityRank(a.priority) - priorityRank(b.priority) ||
    b.priorityLevel - a.priorityLevel ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/**
 * Which blocked GPU jobs of one eligibility class (queue, task, tags) may hold an agent for
 * themselves in one pass:
 * - `larger` (default): the first blocked GPU job, then each later one that needs more GPUs
 *   than every blocked job before it, so at most one per GPU size and growing;
 * - `head`: only the first blocked GPU job;
 * - `per-size`: the first blocked job of each GPU size;
 * - `none`: no reservations (plain best fit with backfill; large jobs can starve).
 */
export type ReservationPolicy = 'larger' | 'head' | 'per-size' | 'none';

export interface PlacementOptions {
  /** Head-of-line reservations per pass. Default `larger`. */
  reservations?: ReservationPolicy;
  /**
   * The time of the pass (epoch ms). With it, jobs' `timeLimitMs` and agents' `releases` are
   * used: a held agent's room is lent to jobs that end before the held job could start there
   * (its shadow time), and a blocked job holds the agent where it can start soonest. Without
   * it (or without limits and releases), placement is as if no job had a limit.
   */
  now?: number;
  /**
   * The jobs are already in the order to place them (fair share interleaved owners within each
   * priority class): placement keeps it instead of sorting by {@link comparePending}.
   */
  ordered?: boolean;
}

/**
 * Places jobs in {@link comparePending} order. A job is eligible on an agent that takes its
 * queue, serves its task, carries all its tags and has its slots, CPU, memory and GPUs free.
 *
 * - GPU jobs go where they fit best: the agent left with the fewest free GPUs (then fewest free
 *   slots, then agent id), on the lowest free device indices.
 * - CPU-only jobs spread over GPU-less agents (most free slots first). Only when none can take
 *   them do they go to a GPU agent, and only if it keeps a free slot for each of its free GPUs.
 * - `avoidAgentId` is a soft preference: that agent is used only if no other can take the job.
 * - A job that fits nowhere is skipped, so it does not block smaller jobs behind it, except
 *   that a blocked GPU job that would fit an eligible agent when idle holds the agent closest
 *   to fitting it (most free GPUs): later jobs take no GPUs there, nor the slots, CPU or memory
 *   it needs. Which blocked jobs may do so is {@link PlacementOptions.reservations}.
 * - EASY backfill, when `now` is given and agents state their `releases`: a held agent's
 *   shadow time is when its free room plus what its running jobs release at the latest first
 *   covers the held job. A job whose `timeLimitMs` ends by then may use the held agent's free
 *   room, and such a job tries held agents first (best fit among them), since only jobs that
 *   end in time can use that room. A blocked job holds the agent with the earliest shadow time
 *   (ties, and agents without known releases: as without limits).
 *
 * Every job given and not placed gets a reason in `pending`. A decision costs O(GPU sizes ·
 * log agents) through per-class heaps; a job whose shape already failed this pass (or that
 * needs at least as much as one that did) costs a map lookup, since free capacity only shrinks
 * during a pass.
 */
export function place(
  pending: readonly PendingJob[],
  agents: readonly AgentCapacity[],
  options: PlacementOptions = {},
): PlacementResult {
  const pass = new PlacementPass(agents, options.reservations ?? 'larger', options.now);
  for (const job of options.ordered ? pending : inOrder(pending)) pass.place(job);
  return pass.result();
}

/** The jobs in {@link comparePending} order; the input itself when it is already in order. */
function inOrder(pending: readonly PendingJob[]): readonly PendingJob[] {
  let sorted = true;
  for (let i = 1; i < pending.length; i++) {
    if (comparePending(pending[i - 1]!, pending[i]!) > 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return pending;
  const keyed = pending.map((job) => ({ job, rank: priorityRank(job.priority) }));
  keyed.sort(
    (a, b) =>
      a.rank - b.rank ||
      b.job.priorityLevel - a.job.priorityLevel ||
      (a.job.id < b.job.id ? -1 : a.job.id > b.job.id ? 1 : 0),
  );
  return keyed.map((k) => k.job);
}
