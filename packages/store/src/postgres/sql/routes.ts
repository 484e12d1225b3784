import { statement } from './statement.js';

/**
 * Task routes (`task_routes`, `expires_at` since migration 5): live while `expires_at` is null
 * (forever) or after now. The table holds task × queue pairs, a few hundred at most, so it is
 * scanned rather than indexed by expiry.
 */

export const liveRouteQueues = statement(
  'live_route_queues',
  `
-- Params: $1 now
SELECT DISTINCT queue FROM task_routes WHERE expires_at IS NULL OR expires_at > $1::bigint`,
);

export const liveRoutes = statement(
  'live_routes',
  `
-- Params: $1 now
SELECT task, queue, expires_at FROM task_routes WHERE expires_at IS NULL OR expires_at > $1::bigint
ORDER BY task, queue`,
);

/**
 * Registers routes live until $3 (null: forever). The newest registration decides between
 * forever and expiring (a forever route registered with a ttl expires, so routes of agents
 * that left lapse); between two expiries the later wins (an expired row's expiry is older than
 * any new one), so a registration never shortens a route's life. Deletes a bounded batch of
 * other expired routes. Answers how many of the routes were not live before (absent or
 * expired), read from the statement's snapshot: a route another server registers at the same
 * moment may be counted by both, never by neither.
 */
export const registerRoutes = statement(
  'register_routes',
  `
-- Params: $1 tasks, $2 queues (pairwise, no pair twice), $3 expiry (null: forever), $4 now, $5 sweep limit
WITH r AS (SELECT task, queue FROM unnest($1::text[], $2::text[]) AS r(task, queue)),
before AS (
  SELECT t.task, t.queue, t.expires_at FROM task_routes t JOIN r ON t.task = r.task AND t.queue = r.queue
),
registered AS (
  INSERT INTO task_routes (task, queue, registered_at, expires_at)
  SELECT task, queue, $4::bigint, $3::bigint FROM r
  ON CONFLICT (task, queue) DO UPDATE SET registered_at = excluded.registered_at,
    expires_at = CASE WHEN excluded.expires_at IS NULL OR task_routes.expires_at IS NULL THEN excluded.expires_at
      ELSE GREATEST(task_routes.expires_at, excluded.expires_at) END
),
swept AS (
  DELETE FROM task_routes WHERE (task, queue) IN (
    SELECT x.task, x.queue FROM task_routes x
    WHERE x.expires_at <= $4::bigint AND NOT EXISTS (SELECT 1 FROM r WHERE r.task = x.task AND r.queue = x.queue)
    LIMIT $5::int
  )
)
-- Pairs are unique and \`before\` holds at most one row per pair, so the routes that were not
-- live are all of them less those that were: a count, not a join of two unindexed CTEs (which
-- went quadratic, minutes for a renewal of 55 000 routes).
SELECT ((SELECT count(*) FROM r) - (SELECT count(*) FROM before b WHERE b.expires_at IS NULL OR b.expires_at > $4::bigint))::int AS revived`,
);
