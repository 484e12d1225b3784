import type { BatonConfig } from '@baton/core';
import type { Store, TaskRoute } from '@baton/store';
import type { Logger } from 'pino';

/**
 * Keeps the task routes of configured pools live while the pools have no agents. Routes lapse
 * once no agent renews them (route-keeper.ts), and a submission of a task no agent serves is
 * refused; but a pool scaled to zero must still take the job that wakes it. So, every third of
 * the route TTL, this renews every live route on a configured pool's queues, and registers the
 * tasks the config declares for a pool (for one that has never had an agent). A task taken out
 * of service stays accepted on those queues while a server runs with the config: its jobs wait
 * for an agent that serves it, and `baton job` explains why.
 */
export class PoolRoutes {
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly config: BatonConfig,
    private readonly options: { routeTtlMs: number; logger: Logger },
  ) {}

  start(): void {
    if (this.timer || this.config.pools.length === 0) return;
    void this.renew();
    this.timer = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.options.routeTtlMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Renews now (a renewal under way is not started twice). */
  renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    const queues = new Set(this.config.pools.flatMap((p) => p.queues));
    const routes = new Map<string, TaskRoute>();
    const add = (r: TaskRoute) => routes.set(`${r.task}\0${r.queue}`, r);
    for (const p of this.config.pools) for (const task of p.tasks) for (const queue of p.queues) add({ task, queue });
    try {
      const now = Date.now();
      for (const r of await this.store.taskRoutes()) {
        if (queues.has(r.queue) && (r.expiresAt === null || r.expiresAt > now)) add({ task: r.task, queue: r.queue });
      }
      if (routes.size > 0) await this.store.registerTasks([...routes.values()], this.options.routeTtlMs);
    } catch (err) {
      this.options.logger.warn({ err }, "could not renew the pools' task routes; retrying at the next tick");
    }
  }
}
