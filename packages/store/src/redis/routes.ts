// Task routes for the Redis store: registerTasks, taskRoutes (scripts register-routes.lua and
// task-routes.lua, one key, so Redis Cluster keeps a call in one slot).
import type { Cluster, Redis } from 'ioredis';
import type { StoredTaskRoute, TaskRoute } from '../contract.js';
import { ROUTE_SWEEP, ROUTES_FROM_BEFORE_MS, sortRoutes, uniqueRoutes } from '../rules/route-rules.js';
import type { RedisKeys } from './keys.js';
import { SEP } from './keys.js';
import { callScript } from './scripts.js';

/** `{p}:routes` values: forever, or live until the ms after the prefix. */
const FOREVER = 'inf';
const EXPIRES = 'exp:';

/**
 * A `{p}:routes` value's expiry, null for forever. Any value of neither form is a registration
 * time written before routes expired: it lives {@link ROUTES_FROM_BEFORE_MS} after it (as in
 * scripts/lib/routes.lua).
 */
function routeExpiresAt(value: string): number | null {
  if (value === FOREVER) return null;
  if (value.startsWith(EXPIRES)) return Number(value.slice(EXPIRES.length));
  return (Number(value) || 0) + ROUTES_FROM_BEFORE_MS;
}

/** Whether a `{p}:routes` value is live at `now`. */
export function routeLive(value: string, now: number): boolean {
  const expiresAt = routeExpiresAt(value);
  return expiresAt === null || expiresAt > now;
}

/**
 * Records routes in `{p}:routes` (field `<task>\0<queue>`, value `inf` or `exp:<ms>`), live
 * until `expiresAt` (null: forever), and answers whether some route became live that was not.
 */
export async function registerTasks(
  client: Redis | Cluster,
  keys: RedisKeys,
  tasks: TaskRoute[],
  expiresAt: number | null,
  now: number,
): Promise<boolean> {
  const routes = uniqueRoutes(tasks);
  if (routes.length === 0) return false;
  const value = expiresAt === null ? FOREVER : `${EXPIRES}${expiresAt}`;
  const fields = routes.map((t) => `${t.task}${SEP}${t.queue}`);
  const revived = await callScript(client, 'register-routes', [keys.routes], [now, value, ...fields]);
  return Number(revived) > 0;
}

/** The live routes, by task then queue. */
export async function taskRoutes(client: Redis | Cluster, keys: RedisKeys, now: number): Promise<StoredTaskRoute[]> {
  const flat = (await callScript(client, 'task-routes', [keys.routes], [now, ROUTE_SWEEP])) as string[];
  const routes: StoredTaskRoute[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i]!;
    const at = field.indexOf(SEP);
    const expiry = flat[i + 1]!;
    routes.push({
      task: field.slice(0, at),
      queue: field.slice(at + 1),
      expiresAt: expiry === '' ? null : Number(expiry),
    });
  }
  return sortRoutes(routes);
}
