import type { PendingJob } from '@baton/core';
import { estimateRuntimeMs, runtimeClassKey } from '@baton/core';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';

export interface RuntimeEstimatesOptions {
  logger: Logger;
  /** How old a class's cached estimate may grow before it is read again. Default 5 s. */
  refreshMs?: number;
  /** Classes cached at most; the least recently refreshed go first. Default 10 000. */
  maxClasses?: number;
}

/** Classes one refresh reads at most (one store call). */
const REFRESH_KEYS = 1000;

interface Cached {
  /** The class's estimate, or null while it has too few runtimes. */
  ms: number | null;
  at: number;
}

/**
 * The scheduler's learned runtime estimates (core's runtime-estimate.ts), cached per class so a
 * pass never waits on the store for them: classes a pass meets that are not cached, or cached
 * longer than `refreshMs` ago, are read in the background, at most one store call per
 * `refreshMs`, and the next pass has them. An estimate is for placement only (EASY backfill and
 * reservations): it is never a limit and never reaches an agent.
 */
export class RuntimeEstimates {
  private readonly cache = new Map<string, Cached>();
  /** Classes to read at the next refresh. */
  private readonly wanted = new Set<string>();
  private refreshing = false;
  private lastRefreshAt = -Infinity;
  private readonly refreshMs: number;
  private readonly maxClasses: number;

  constructor(
    private readonly store: Store,
    private readonly options: RuntimeEstimatesOptions,
  ) {
    this.refreshMs = options.refreshMs ?? 5000;
    this.maxClasses = options.maxClasses ?? 10_000;
  }

  /**
   * Gives each pending job without a time limit its class's cached estimate as `timeLimitMs`,
   * for this pass's placement only, and notes it in `estimated` (job id → ms), so the offer for
   * the job carries it to its agent's server. Jobs filled before (a second read in the pass)
   * keep theirs.
   */
  fill(pending: readonly PendingJob[], estimated: Map<string, number>): void {
    const now = Date.now();
    for (const job of pending) {
      if ((job.timeLimitMs !== null && job.timeLimitMs !== undefined) || job.owner === undefined) continue;
      const key = runtimeClassKey(job.owner, job.task, job.resources);
      const cached = this.cache.get(key);
      if ((!cached || now - cached.at >= this.refreshMs) && this.wanted.size < this.maxClasses) this.wanted.add(key);
      if (cached?.ms === null || cached?.ms === undefined) continue;
      job.timeLimitMs = cached.ms;
      estimated.set(job.id, cached.ms);
    }
    if (this.wanted.size > 0 && !this.refreshing && now - this.lastRefreshAt >= this.refreshMs) {
      this.refreshing = true;
      this.lastRefreshAt = now;
      void this.refresh().finally(() => (this.refreshing = false));
    }
  }

  /** Reads the wanted classes' runtimes (one store call); never rejects. */
  private async refresh(): Promise<void> {
    const keys = [...this.wanted].slice(0, REFRESH_KEYS);
    try {
      const samples = await this.store.runtimeSamples(keys);
      const at = Date.now();
      for (const key of keys) {
        this.wanted.delete(key);
        // Re-inserted, so the map's order is refresh order: eviction takes the stalest.
        this.cache.delete(key);
        this.cache.set(key, { ms: estimateRuntimeMs(samples.get(key) ?? []), at });
      }
      for (const key of this.cache.keys()) {
        if (this.cache.size <= this.maxClasses) break;
        this.cache.delete(key);
      }
    } catch (err) {
      // The classes stay wanted; the next refresh tries again. Placement goes on without.
      this.options.logger.warn({ err }, 'could not read learned runtimes');
    }
  }
}
