import type { Store } from '@baton/store';
import type { Logger } from 'pino';

export interface UsageAccountantOptions {
  halfLifeMs: number;
  /** How often held resources are charged as usage. [10 000] */
  intervalMs?: number;
  /** Whether this server charges the fleet's usage now (it holds scheduler shard 0). */
  isAccountant: () => boolean;
  logger: Logger;
  clock?: () => number;
}

/**
 * Charges what owners hold as usage: every interval, each owner's leased units times the
 * seconds since the last charge, added to their decayed usage in the store. One server of the
 * fleet does it (the holder of shard 0, like retention), so usage is counted once. A charge
 * covers at most two intervals: after a takeover or a stall, the gap is not billed in one
 * lump that nobody ran.
 */
export class UsageAccountant {
  private timer: NodeJS.Timeout | null = null;
  private lastAt: number | null = null;
  private running: Promise<void> | null = null;
  private readonly intervalMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly store: Store,
    private readonly options: UsageAccountantOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.charge().finally(() => (this.running = null));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One charge; exposed for tests. */
  async charge(): Promise<void> {
    const now = this.clock();
    if (!this.options.isAccountant()) {
      this.lastAt = null;
      return;
    }
    const since = this.lastAt;
    this.lastAt = now;
    if (since === null) return;
    const seconds = Math.min(now - since, 2 * this.intervalMs) / 1000;
    if (seconds <= 0) return;
    try {
      const loads = await this.store.ownerLoads();
      const entries = loads
        .filter((l) => l.leasedUnits > 0)
        .map((l) => ({ owner: l.owner, units: l.leasedUnits * seconds }));
      if (entries.length > 0) await this.store.addUsage(entries, this.options.halfLifeMs);
    } catch (err) {
      this.options.logger.warn({ err }, 'could not charge usage for fair share; will retry');
    }
  }
}
