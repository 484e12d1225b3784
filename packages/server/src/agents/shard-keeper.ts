import { EventEmitter } from 'node:events';
import { spreadShards } from '@baton/core';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';

export interface ShardKeeperOptions {
  schedulerId: string;
  /** How long a shard lease (and a scheduler's liveness) lasts without renewal. [5 000] */
  leaseMs: number;
  logger: Logger;
}

/**
 * Keeps this scheduler's share of the shards: on a timer (a fifth of the lease) it renews its
 * liveness, works out its share of the shards among the live schedulers (consistent hashing
 * with bounded loads) and claims exactly those from the store. A shard whose owner died is
 * free once its lease runs out, so another scheduler takes it within one lease period and a
 * tick. Emits `changed` when the shards it holds change.
 */
export class ShardKeeper extends EventEmitter<{ changed: [] }> {
  private held: ReadonlySet<number> = new Set();
  private live = 1;
  /** When the store last confirmed the shards held: past a lease period they may be others'. */
  private confirmedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly options: ShardKeeperOptions,
  ) {
    super();
  }

  get owned(): ReadonlySet<number> {
    return Date.now() - this.confirmedAt < this.options.leaseMs ? this.held : new Set();
  }

  /** Schedulers alive at the last tick, this one included. */
  get liveSchedulers(): number {
    return this.live;
  }

  get schedulerId(): string {
    return this.options.schedulerId;
  }

  /** Claims a first share, then keeps it up to date. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.options.leaseMs / 5)));
    this.timer.unref();
  }

  /** Gives every shard up at once, so others take them without waiting for the leases. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    this.held = new Set();
    try {
      await this.store.removeScheduler(this.options.schedulerId);
    } catch (err) {
      this.options.logger.warn({ err }, 'could not release shards; they free up when their leases run out');
    }
  }

  private tick(): Promise<void> {
    this.ticking ??= this.claim().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async claim(): Promise<void> {
    if (this.stopped) return;
    const { schedulerId, leaseMs } = this.options;
    try {
      const startedAt = Date.now();
      const live = await this.store.heartbeatScheduler(schedulerId, leaseMs);
      this.live = live.length;
      const mine = spreadShards(live).get(schedulerId) ?? [];
      const got = await this.store.claimShards(schedulerId, mine, leaseMs);
      if (this.stopped) return;
      const before = this.held;
      this.held = new Set(got);
      this.confirmedAt = startedAt;
      if (got.length !== before.size || got.some((s) => !before.has(s))) {
        this.options.logger.info(
          { schedulerId, shards: got.length, schedulers: live.length },
          'scheduler shards changed',
        );
        this.emit('changed');
      }
    } catch (err) {
      // Leases keep their time; the next tick tries again. Past the lease, others take over.
      this.options.logger.warn({ err }, 'could not renew shard leases');
    }
  }
}
