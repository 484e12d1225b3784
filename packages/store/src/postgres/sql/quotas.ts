import { statement } from './statement.js';

/** Owner usage and the quota check of assign (see ../quotas.ts), over owner_counts (migration 6). */

/** An owner's jobs per queue and state (every slot summed), with their GPUs. */
export const ownerCounts = statement(
  'owner_counts',
  `
-- Params: $1 owner
SELECT queue, state, sum(n)::bigint AS n, sum(gpus)::bigint AS gpus FROM owner_counts WHERE owner = $1::text
GROUP BY queue, state HAVING sum(n) <> 0 ORDER BY queue, state`,
);

/**
 * Whether some quota limits assignment (a running-jobs or GPU limit, the user's own or the
 * default): one probe of a partial index and of a one-row table. Part of the assign statement
 * (../sql/scheduling.ts), so the path without quotas costs no extra round trip.
 */
export const ASSIGN_LIMITED = `(
  EXISTS (SELECT 1 FROM quotas WHERE max_running_jobs IS NOT NULL OR max_gpus IS NOT NULL)
  OR EXISTS (SELECT 1 FROM default_quota WHERE max_running_jobs IS NOT NULL OR max_gpus IS NOT NULL)
)`;

/**
 * Takes the quota lock of each owner of the batch's jobs whose effective quota limits
 * assignment, in key order (one order for every transaction: no deadlock between them), for
 * the rest of the transaction; owners without limits are not serialised. Owners never change,
 * so they are read without locking the jobs. The key is namespaced by purpose and schema, so
 * assigners of other schemas on the database never wait for these.
 *
 * A quota set while assignments are in flight binds from the next assign on: one that read
 * no limit for an owner (here or in the assign statement's check) goes ahead without the lock.
 */
export const lockOwners = statement(
  'lock_owners',
  `
-- Params: $1 job ids
SELECT pg_advisory_xact_lock(k) FROM (
  SELECT DISTINCT hashtextextended('baton.quota.' || current_schema() || '.' || j.owner, 0) AS k
  FROM unnest($1::text[]) AS p(id)
  CROSS JOIN LATERAL (SELECT owner FROM jobs WHERE id = p.id LIMIT 1) j
  LEFT JOIN quotas q ON q.user_name = j.owner
  LEFT JOIN default_quota d ON true
  WHERE CASE WHEN q.user_name IS NOT NULL THEN q.max_running_jobs IS NOT NULL OR q.max_gpus IS NOT NULL
    ELSE d.max_running_jobs IS NOT NULL OR d.max_gpus IS NOT NULL END
  ORDER BY k
) owners`,
);

/**
 * Locks the batch's jobs that are still queued (SKIP LOCKED, as assign does: a job another
 * scheduler holds is skipped), with each one's owner and GPUs, so the quota decision counts
 * only placements that would be assigned. The assign statement that follows in the same
 * transaction finds them locked by itself.
 */
export const lockQueued = statement(
  'lock_queued',
  `
-- Params: $1 job ids, $2 ordinals
WITH p AS (SELECT * FROM unnest($1::text[], $2::int[]) AS p(id, ord))
SELECT p.ord, j.owner, COALESCE((j.resources->>'gpus')::int, 0) AS gpus
FROM p JOIN jobs j ON j.id = p.id WHERE j.state = 'queued'
FOR UPDATE OF j SKIP LOCKED`,
);

/**
 * Each owner's leased jobs and their GPUs now, and the limits of their effective quota: their
 * own when they have one (replacing the default whole), else the default (none when unset).
 */
export const ownerLoads = statement(
  'owner_loads',
  `
-- Params: $1 owners
SELECT o.owner,
  COALESCE(c.n, 0)::bigint AS leased_jobs, COALESCE(c.gpus, 0)::bigint AS leased_gpus,
  CASE WHEN q.user_name IS NOT NULL THEN q.max_running_jobs ELSE d.max_running_jobs END AS max_running_jobs,
  CASE WHEN q.user_name IS NOT NULL THEN q.max_gpus ELSE d.max_gpus END AS max_gpus
FROM unnest($1::text[]) AS o(owner)
LEFT JOIN LATERAL (
  SELECT sum(n) AS n, sum(gpus) AS gpus FROM owner_counts
  WHERE owner = o.owner AND state IN ('assigned', 'running')
) c ON true
LEFT JOIN quotas q ON q.user_name = o.owner
LEFT JOIN default_quota d ON true`,
);
