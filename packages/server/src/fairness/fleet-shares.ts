import type { OwnerLoad, Store } from '@baton/store';

/** How long weights and decayed usage are reused between passes: both change slowly. */
const REFRESH_MS = 5000;

export interface Shares {
  usage: ReadonlyMap<string, number>;
  weights: ReadonlyMap<string, number>;
  /** The usage's half-life, seconds: fair order weighs what owners hold now on its scale. */
  halfLifeS: number;
}

/**
 * What fair share and running quotas read from the store for a scheduling pass: users'
 * weights and decayed usage (cached a few seconds), and what each owner holds now (read fresh
 * for each pass that needs it: it changes with every placement).
 */
export class FleetShares {
  private cached: Shares | null = null;
  private cachedAt = 0;

  constructor(
    private readonly store: Store,
    private readonly halfLifeMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async shares(): Promise<Shares> {
    const now = this.clock();
    if (this.cached && now - this.cachedAt < REFRESH_MS) return this.cached;
    const [users, usage] = await Promise.all([this.store.listUsers(), this.store.usage(this.halfLifeMs)]);
    this.cached = {
      weights: new Map(users.map((u) => [u.name, u.weight])),
      usage: new Map(usage.map((u) => [u.owner, u.units])),
      halfLifeS: this.halfLifeMs / 1000,
    };
    this.cachedAt = now;
    return this.cached;
  }

  async loads(): Promise<Map<string, OwnerLoad>> {
    return new Map((await this.store.ownerLoads()).map((l) => [l.owner, l]));
  }
}
