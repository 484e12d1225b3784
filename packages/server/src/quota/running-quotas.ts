import type { PendingJob, PendingReason } from '@baton/core';
import type { OwnerLoad, Quota } from '@baton/store';

/**
 * The running quotas (`maxRunningJobs`, `maxGpus`) applied before placement: a job whose
 * owner already holds their limit is left out of the pass with its reason, so it takes no room
 * that another owner's job could use. Jobs are taken in the order given (the order they would
 * be placed), counting earlier ones of the same owner. The store's `assign` checks the same
 * limits atomically, so schedulers on several servers never overshoot them together; this
 * only keeps a pass from planning work the store would refuse.
 */
export function applyRunningQuotas(
  ordered: readonly PendingJob[],
  quotaOf: (owner: string) => Quota,
  loads: ReadonlyMap<string, OwnerLoad>,
): { admitted: PendingJob[]; held: Map<string, PendingReason> } {
  const admitted: PendingJob[] = [];
  const held = new Map<string, PendingReason>();
  const taken = new Map<string, { jobs: number; gpus: number }>();
  for (const job of ordered) {
    const owner = job.owner ?? '';
    const quota = quotaOf(owner);
    if (quota.maxRunningJobs === null && quota.maxGpus === null) {
      admitted.push(job);
      continue;
    }
    let t = taken.get(owner);
    if (!t) {
      const load = loads.get(owner);
      taken.set(owner, (t = { jobs: load?.leasedJobs ?? 0, gpus: load?.leasedGpus ?? 0 }));
    }
    if (quota.maxRunningJobs !== null && t.jobs + 1 > quota.maxRunningJobs) {
      held.set(job.id, {
        code: 'QUOTA_MAX_RUNNING',
        message: `${owner} runs ${t.jobs} jobs, as many as their quota allows (maxRunningJobs ${quota.maxRunningJobs})`,
      });
      continue;
    }
    // As the store decides (rules/quota-rules.ts): an owner over maxGpus (it was lowered) runs
    // nothing more until back under it.
    if (quota.maxGpus !== null && t.gpus + job.resources.gpus > quota.maxGpus) {
      held.set(job.id, {
        code: 'QUOTA_MAX_GPUS',
        message: `${owner}'s running jobs hold ${t.gpus} GPUs; ${job.resources.gpus} more would pass their quota (maxGpus ${quota.maxGpus})`,
      });
      continue;
    }
    // Counted as if placed: a job that then finds no room only makes the pass more careful.
    t.jobs += 1;
    t.gpus += job.resources.gpus;
    admitted.push(job);
  }
  return { admitted, held };
}
