import type { Store, StoredTaskRoute, TaskRoute } from '@baton/store';
import { ValidationError, DEFAULT_QUEUE } from '@baton/core';

/** The built-in command task (agents started with --allow-commands serve it). */
const COMMAND_TASK = 'command';

/**
 * Which tasks are served on which queues, as agents announced them. Cached, and read again
 * every `ttlMs`. A task or queue the cache does not know reads the store again only when it
 * may have changed: a `routes` event came (an agent registered, on this server or, by the
 * store's events, another), or `minReloadMs` passed since the last read (events between
 * servers can be lost). Concurrent misses share one read. So a client sending random task
 * names costs at most one store read per `minReloadMs`, and a task an agent has just
 * registered is found at once on its server and within about `minReloadMs` elsewhere.
 *
 * Routes expire (an agent's server renews them while it has the agent; see route-keeper.ts):
 * once the earliest expiry among the cached routes has passed, the store is read again before
 * answering, so a task whose last agent left is refused again (`UNKNOWN_TASK`) within about
 * the route TTL. Expiry is the store's clock; servers' clocks are taken to agree with it.
 */
export class TaskRoutes {
  private routes = new Map<string, Set<string>>();
  /** When the first cached route expires (Infinity: none does). */
  private expiresAt = Infinity;
  /** When the last read began (-Infinity: never). */
  private loadedAt = -Infinity;
  /** A `routes` event came since the last read began. */
  private stale = true;
  private reloading: Promise<void> | null = null;
  /** The last read's failure, answered again to misses until `minReloadMs` has passed. */
  private failure: unknown = null;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 5000,
    private readonly minReloadMs = 1000,
    private readonly clock: () => number = Date.now,
  ) {
    this.unsubscribe = store.subscribe((event) => {
      if (event.type === 'routes') this.stale = true;
    });
  }

  /** Stops listening for route changes. */
  close(): void {
    this.unsubscribe();
  }

  /** The queue a job of `task` goes to, checking that some agent serves the pair. */
  async resolveQueue(task: string, queue: string | undefined): Promise<string> {
    const now = this.clock();
    if (now - this.loadedAt > this.ttlMs || now >= this.expiresAt) await this.reload();
    let queues = this.routes.get(task);
    if (!queues || (queue !== undefined && !queues.has(queue))) {
      await this.reloadOnMiss();
      queues = this.routes.get(task);
    }
    if (!queues) {
      const known = [...this.routes.keys()].sort();
      if (task === COMMAND_TASK) {
        throw new ValidationError(
          'no agent runs command tasks: start one with `baton agent --allow-commands`',
          { task, knownTasks: known },
          'UNKNOWN_TASK',
        );
      }
      throw new ValidationError(
        `unknown task "${task}": no agent has registered it${known.length ? ` (known tasks: ${known.slice(0, 20).join(', ')})` : ''}`,
        { task, knownTasks: known },
        'UNKNOWN_TASK',
      );
    }
    if (queue === undefined)
      return queues.has(DEFAULT_QUEUE) ? DEFAULT_QUEUE : ([...queues].sort()[0] ?? DEFAULT_QUEUE);
    if (!queues.has(queue)) {
      const allQueues = new Set([...this.routes.values()].flatMap((s) => [...s]));
      const what = allQueues.has(queue)
        ? `task "${task}" is not served on queue "${queue}"`
        : `unknown queue "${queue}"`;
      throw new ValidationError(
        `${what} (task "${task}" is served on: ${[...queues].sort().join(', ')})`,
        { task, queue },
        'UNKNOWN_QUEUE',
      );
    }
    return queue;
  }

  async list(): Promise<TaskRoute[]> {
    await this.reload();
    return [...this.routes].flatMap(([task, queues]) => [...queues].map((queue) => ({ task, queue })));
  }

  /** Reads the store again after a miss, if the routes may have changed since the last read. */
  private async reloadOnMiss(): Promise<void> {
    if (this.reloading) return this.reloading;
    const recent = this.clock() - this.loadedAt < this.minReloadMs;
    if (recent && this.failure !== null) throw this.failure;
    if (recent && !this.stale) return;
    return this.reload();
  }

  /** Reads the routes; calls while a read is under way share it. */
  private reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async load(): Promise<void> {
    this.loadedAt = this.clock();
    this.stale = false;
    let found: StoredTaskRoute[];
    try {
      found = await this.store.taskRoutes();
    } catch (err) {
      this.failure = err;
      throw err;
    }
    this.failure = null;
    const routes = new Map<string, Set<string>>();
    let expiresAt = Infinity;
    for (const { task, queue, expiresAt: expiry } of found) {
      if (expiry !== null) expiresAt = Math.min(expiresAt, expiry);
      let set = routes.get(task);
      if (!set) routes.set(task, (set = new Set()));
      set.add(queue);
    }
    this.routes = routes;
    this.expiresAt = expiresAt;
  }
}
