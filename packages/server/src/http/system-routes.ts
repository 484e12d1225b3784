import type { FastifyInstance } from 'fastify';
import type { Store } from '@baton/store';
import type { SchedulerLoop } from '../agents/scheduler-loop.js';

export function registerSystemRoutes(
  app: FastifyInstance,
  deps: { store: Store; scheduler: SchedulerLoop | null },
): void {
  /** Liveness: the process serves HTTP. */
  app.get('/healthz', async () => ({ status: 'ok' }));

  /** Readiness: the store answers and, where this server schedules, the loop is passing. */
  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    try {
      await deps.store.ping();
      checks.store = 'ok';
    } catch (err) {
      checks.store = `failing: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (deps.scheduler) checks.scheduler = deps.scheduler.healthy ? 'ok' : 'not passing';
    const ready = Object.values(checks).every((c) => c === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
}
