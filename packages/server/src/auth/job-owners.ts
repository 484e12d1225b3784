import type { Store } from '@baton/store';

/**
 * Who owns a job, for filtering event streams by user. An owner never changes, so a cached
 * answer never goes stale; the cache is bounded, the least recently found going first.
 */
export class JobOwners {
  private readonly owners = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly max = 10_000,
  ) {}

  /** The job's owner, or null when there is no such job (any more). */
  async of(jobId: string): Promise<string | null> {
    const hit = this.owners.get(jobId);
    if (hit !== undefined) {
      this.owners.delete(jobId);
      this.owners.set(jobId, hit);
      return hit;
    }
    const job = await this.store.getJob(jobId);
    if (!job) return null;
    this.owners.set(jobId, job.owner);
    if (this.owners.size > this.max) {
      const stalest = this.owners.keys().next().value;
      if (stalest !== undefined) this.owners.delete(stalest);
    }
    return job.owner;
  }
}
