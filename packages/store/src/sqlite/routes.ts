import type Database from 'better-sqlite3';
import type { StoredTaskRoute, TaskRoute } from '../contract.js';
import { ROUTE_SWEEP, uniqueRoutes } from '../rules/route-rules.js';
import type { Statements } from './statements.js';

/**
 * Task routes in SQLite (`task_routes`, `expires_at` since migration 5: null is forever).
 * Registers `tasks` live until `expiresAt` (null: forever) in one transaction, deleting a
 * bounded batch of expired routes on the way, and answers whether some route became live that
 * was not (new, or expired and back): only then must servers caching routes read them again.
 */
export function registerRoutes(
  db: Database.Database,
  sql: Statements,
  tasks: readonly TaskRoute[],
  expiresAt: number | null,
  now: number,
): boolean {
  const routes = uniqueRoutes(tasks);
  if (routes.length === 0) return false;
  return db.transaction(() => {
    sql.sweepRoutes.run(now, ROUTE_SWEEP);
    let revived = false;
    for (const { task, queue } of routes) {
      const row = sql.routeExpiry.get(task, queue) as { expires_at: number | null } | undefined;
      if (!row || (row.expires_at !== null && row.expires_at <= now)) revived = true;
      sql.upsertRoute.run({ task, queue, now, expiresAt });
    }
    return revived;
  })();
}

/** The live routes, by task then queue. */
export function liveRoutes(sql: Statements, now: number): StoredTaskRoute[] {
  return sql.liveRoutes.all(now) as StoredTaskRoute[];
}
