import type { Store, TaskRoute } from '@baton/store';
import type { Logger } from 'pino';
import type { AgentSession } from './agent-session.js';

/**
 * Keeps the task routes of this server's agents live in the store. Routes are registered with
 * a time to live (`routeTtlMs`), so those of an agent that left, or went with its server, lapse
 * and submissions to a task no agent serves are refused again. Every session the server still
 * has (connected, draining, or disconnected within its reconnect grace) has its routes renewed
 * every third of the TTL, all in one store call; a lost or departed agent's session is gone, so
 * its routes run out. A store error is logged and the next tick tries again.
 */
export class RouteKeeper {
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly options: { routeTtlMs: number; logger: Logger },
    private readonly sessions: () => Iterable<AgentSession>,
  ) {}

  /** Starts renewing. Idempotent. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), Math.max(1, Math.floor(this.options.routeTtlMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Renews every session's routes now (a renewal still under way is not started twice). */
  refresh(): Promise<void> {
    this.refreshing ??= this.renew().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async renew(): Promise<void> {
    const routes = new Map<string, TaskRoute>();
    for (const session of this.sessions()) {
      for (const route of routesOfSession(session)) routes.set(`${route.task}\0${route.queue}`, route);
    }
    if (routes.size === 0) return;
    try {
      await this.store.registerTasks([...routes.values()], this.options.routeTtlMs);
    } catch (err) {
      this.options.logger.warn(
        { err, routes: routes.size },
        "could not renew the agents' task routes; retrying at the next tick",
      );
    }
  }
}

/** The routes a session serves: each of its tasks on each queue it takes (as registered). */
function routesOfSession(session: AgentSession): TaskRoute[] {
  const { tasks, queues } = session.declaration;
  return [...tasks].flatMap((task) => queues.map((queue) => ({ task, queue })));
}
