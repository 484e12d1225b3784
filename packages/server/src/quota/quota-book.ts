import type { Quota, Store } from '@baton/store';
import { NO_QUOTA } from '@baton/store';

export interface EffectiveQuota {
  quota: Quota;
  /** Whether it is the user's own quota or the default. */
  source: 'user' | 'default';
}

/**
 * Each owner's quota as submissions check it: the owner's own, else the default. Read from the
 * store at most once per `cacheMs` per owner, so a busy submitter costs no store reads; a
 * quota changed on another server applies here within that, on this server at once.
 */
export class QuotaBook {
  private readonly cache = new Map<string, { value: EffectiveQuota; at: number }>();
  private readonly reading = new Map<string, Promise<EffectiveQuota>>();
  /** The default quota, read once per `cacheMs` for every owner without their own. */
  private fallback: { quota: Promise<Quota>; at: number } | null = null;

  constructor(
    private readonly store: Store,
    private readonly cacheMs = 2000,
    private readonly clock: () => number = Date.now,
  ) {}

  async effective(owner: string): Promise<EffectiveQuota> {
    const now = this.clock();
    const hit = this.cache.get(owner);
    if (hit && now - hit.at < this.cacheMs) return hit.value;
    // One store read per owner at a time: submissions that arrive while it is read share it.
    const inFlight = this.reading.get(owner);
    if (inFlight) return inFlight;
    const read: Promise<EffectiveQuota> = this.read(owner, now, () => this.reading.get(owner) === read).finally(() => {
      if (this.reading.get(owner) === read) this.reading.delete(owner);
    });
    this.reading.set(owner, read);
    return read;
  }

  private async read(owner: string, now: number, stillWanted: () => boolean): Promise<EffectiveQuota> {
    const own = await this.store.getQuota(owner);
    const value: EffectiveQuota = own
      ? { quota: own, source: 'user' }
      : { quota: await this.defaultQuota(now), source: 'default' };
    // Changed here while it was read (forget): answer this once, keep nothing.
    if (!stillWanted()) return value;
    this.cache.delete(owner);
    this.cache.set(owner, { value, at: now });
    // Bounded: owners are many only when users are; the stalest entry goes first.
    if (this.cache.size > 10_000) {
      const stalest = this.cache.keys().next().value;
      if (stalest !== undefined) this.cache.delete(stalest);
    }
    return value;
  }

  private defaultQuota(now: number): Promise<Quota> {
    if (!this.fallback || now - this.fallback.at >= this.cacheMs) {
      const quota = this.store.getQuota(null).then((q) => q ?? NO_QUOTA);
      // A failed read is not kept: the next call asks again.
      quota.catch(() => {
        if (this.fallback?.quota === quota) this.fallback = null;
      });
      this.fallback = { quota, at: now };
    }
    return this.fallback.quota;
  }

  /** A quota changed here: `owner`'s, or with no owner the default (which every owner may have). */
  forget(owner?: string): void {
    if (owner === undefined) {
      this.cache.clear();
      this.reading.clear();
      this.fallback = null;
    } else {
      this.cache.delete(owner);
      this.reading.delete(owner);
    }
  }
}
