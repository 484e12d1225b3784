import type pg from 'pg';
import type { StoredTaskRoute, TaskRoute } from '../contract.js';
import { ROUTE_SWEEP, uniqueRoutes } from '../rules/route-rules.js';
import * as routesSql from './sql/routes.js';

/**
 * Registers `tasks` live until `expiresAt` (null: forever) in one statement (see
 * sql/routes.ts), and answers whether some route became live that was not (new, or expired
 * and back): only then must servers caching routes read them again.
 */
export async function registerRoutes(
  pool: pg.Pool,
  tasks: readonly TaskRoute[],
  expiresAt: number | null,
  now: number,
): Promise<boolean> {
  const routes = uniqueRoutes(tasks);
  if (routes.length === 0) return false;
  const { name, text } = routesSql.registerRoutes;
  const values = [routes.map((t) => t.task), routes.map((t) => t.queue), expiresAt, now, ROUTE_SWEEP];
  const { rows } = await pool.query<{ revived: number }>({ name, text, values });
  return (rows[0]?.revived ?? 0) > 0;
}

/** The live routes, by task then queue. */
export async function liveRoutes(pool: pg.Pool, now: number): Promise<StoredTaskRoute[]> {
  const { name, text } = routesSql.liveRoutes;
  const { rows } = await pool.query<TaskRoute & { expires_at: number | null }>({ name, text, values: [now] });
  return rows.map((r) => ({ task: r.task, queue: r.queue, expiresAt: r.expires_at }));
}
