import { statement } from './statement.js';

/** Fair share (see ../fair-share.ts): owner loads from owner_counts, decayed usage in owner_usage (migration 7). */

/** Each owner's leased jobs, GPUs and units, every slot summed; owners with none are left out. */
export const ownerLoads = statement(
  'fair_share_owner_loads',
  `
-- Params: none
SELECT owner, sum(n)::bigint AS leased_jobs, sum(gpus)::bigint AS leased_gpus, sum(units)::bigint AS leased_units
FROM owner_counts WHERE state IN ('assigned', 'running')
GROUP BY owner HAVING sum(n) > 0`,
);

/**
 * A stored usage decayed from its time to $now: `units · 2^(-(now - at) / halfLife)`, undecayed
 * when `at` is ahead of now (another server's clock), as ../../rules/usage-decay.ts reads it.
 * PostgreSQL raises an error where a float underflows (power and multiplication alike), so
 * what has decayed by over 2^-400 (or was below 1e-200) is read as none: far below the floor
 * under which usage counts as none anyway, and the product of the rest cannot underflow.
 */
const decayedSql = (units: string, at: string, now: string, halfLife: string): string => `
  CASE WHEN ${units} < 1e-200 OR (${now} - ${at})::float8 / ${halfLife} > 400 THEN 0
    ELSE ${units} * power(2::float8, -GREATEST(0, ${now} - ${at})::float8 / ${halfLife}) END`;

/**
 * Adds usage to each owner (owners distinct) in one upsert: an existing row is decayed to now
 * and added to under its row lock, so concurrent adds from several schedulers all count. Rows
 * are written in owner order, so two batches never wait on each other in a cycle. `at` never
 * moves back (a caller whose clock is behind adds undecayed to the later time).
 */
export const addUsage = statement(
  'fair_share_add_usage',
  `
-- Params: $1 owners (distinct), $2 units (> 0), $3 now, $4 half-life ms
INSERT INTO owner_usage AS u (owner, units, at)
SELECT owner, units, $3::bigint FROM unnest($1::text[], $2::float8[]) AS e(owner, units) ORDER BY owner
ON CONFLICT (owner) DO UPDATE SET
  units = ${decayedSql('u.units', 'u.at', 'excluded.at', '$4::float8')} + excluded.units,
  at = GREATEST(u.at, excluded.at)`,
);

/** Every owner's usage as stored; the caller decays it to now (../../rules/usage-decay.ts). */
export const usage = statement(
  'fair_share_usage',
  `
-- Params: none
SELECT owner, units, at FROM owner_usage`,
);

/**
 * Applies preemptions to jobs locked by lockForSettle (./leases.ts) whose leases were checked:
 * each ended attempt goes to job_attempts as 'preempted', and the job back to queued at once
 * (no backoff), its lease cleared and one attempt given back (max_attempts + 1), so the
 * attempts it has left are those it had before it was assigned. avoid_agent_id stays: the
 * agent did nothing wrong. Answers each job's queue, for the enqueued event.
 */
export const preempt = statement(
  'preempt',
  `
-- Params: $1 job ids (distinct), $2 errors (JSON text), $3 now
WITH a AS (
  SELECT * FROM unnest($1::text[], $2::text[]) AS a(id, error)
),
history AS (
  INSERT INTO job_attempts (job_id, attempt, agent_id, lease_token, assigned_at, started_at, finished_at, outcome, error)
  SELECT j.id, j.attempts, j.agent_id, j.lease_token, j.assigned_at, j.started_at, $3::bigint, 'preempted', a.error::json
  FROM a CROSS JOIN LATERAL (SELECT * FROM jobs WHERE id = a.id LIMIT 1) j
)
UPDATE jobs j SET state = 'queued', run_at = $3::bigint, error = a.error::json, agent_id = NULL,
  lease_token = NULL, lease_expires_at = NULL, max_attempts = j.max_attempts + 1, updated_at = $3::bigint
FROM a WHERE j.id = ANY($1::text[]) AND j.id = a.id
RETURNING j.queue`,
);
