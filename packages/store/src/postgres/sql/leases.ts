import { statement } from './statement.js';

/**
 * Lease-checked transitions: they change a job only while the caller's lease is current.
 * Every item of a batch comes back with the job as the statement found it (`cur_*`), so the
 * caller can say why an item was refused without another round trip. Rows are locked in id
 * order first, as lockForSettle does, so concurrent batches cannot deadlock; each by one index
 * probe in the partition its id hashes to, locked by the statement's own FOR UPDATE, never by
 * one inside the probe (see ./statement.ts on locking jobs by id).
 */

export const start = statement(
  'start',
  `
-- Params: $1 job ids, $2 lease tokens (pairwise), $3 lease expiry, $4 now
WITH i AS (
  SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS i(id, lease_token, ord)
),
found AS (
  SELECT i.ord, i.id, i.lease_token, j.state, j.lease_token AS cur_lease_token
  FROM (SELECT * FROM i ORDER BY id COLLATE "C") i JOIN jobs j ON j.id = i.id
  ORDER BY i.id COLLATE "C" FOR UPDATE OF j
),
started AS (
  UPDATE jobs j SET started_at = CASE WHEN j.state = 'assigned' THEN $4::bigint ELSE j.started_at END,
    state = 'running', lease_expires_at = $3::bigint, updated_at = $4::bigint
  FROM found f WHERE j.id = ANY($1::text[]) AND j.id = f.id
    AND f.cur_lease_token = f.lease_token AND f.state IN ('assigned', 'running')
  RETURNING j.id, j.lease_token, j.state
)
SELECT i.ord, s.state AS new_state, f.state AS cur_state, f.cur_lease_token
FROM i LEFT JOIN started s ON s.id = i.id AND s.lease_token = i.lease_token LEFT JOIN found f ON f.ord = i.ord
ORDER BY i.ord`,
);

export const heartbeat = statement(
  'heartbeat',
  `
-- Params: $1 job ids, $2 lease tokens, $3 progress (null keeps it), $4 lease expiry, $5 now
WITH i AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::float8[]) WITH ORDINALITY AS i(id, lease_token, progress, ord)
),
found AS (
  SELECT i.ord, i.id, i.lease_token, i.progress, j.state, j.lease_token AS cur_lease_token
  FROM (SELECT * FROM i ORDER BY id COLLATE "C") i JOIN jobs j ON j.id = i.id
  ORDER BY i.id COLLATE "C" FOR UPDATE OF j
),
renewed AS (
  UPDATE jobs j SET lease_expires_at = $4::bigint, progress = COALESCE(f.progress, j.progress),
    updated_at = $5::bigint
  FROM found f WHERE j.id = ANY($1::text[]) AND j.id = f.id
    AND f.cur_lease_token = f.lease_token AND f.state IN ('assigned', 'running')
  RETURNING j.id, j.lease_token, j.state
)
SELECT i.ord, r.state AS new_state, f.state AS cur_state, f.cur_lease_token
FROM i LEFT JOIN renewed r ON r.id = i.id AND r.lease_token = i.lease_token LEFT JOIN found f ON f.ord = i.ord
ORDER BY i.ord`,
);

/**
 * First step of complete and release: locks the reported jobs (in id order, so concurrent
 * batches cannot deadlock; one index probe each, see ./statement.ts) and reads what deciding
 * each outcome needs, as the newest version of each row reads once locked. A workflow step
 * (workflow_id set) is settled by a second transaction that locks its workflow first
 * (../workflow-settle.ts).
 */
export const lockForSettle = statement(
  'lock_for_settle',
  `
-- Params: $1 job ids (distinct)
SELECT j.id, j.state, j.lease_token, j.lease_expires_at, j.attempts, j.max_attempts, j.backoff_ms, j.workflow_id
FROM (SELECT id FROM unnest($1::text[]) AS u(id) ORDER BY id COLLATE "C") u JOIN jobs j ON j.id = u.id
ORDER BY u.id COLLATE "C" FOR UPDATE OF j`,
);

/**
 * Second step: applies the decided outcomes, at most one per job, to jobs locked by
 * lockForSettle. 'succeeded' and 'failed' end the job, recording its last attempt on the row
 * (see getAttempts); 'queued' and 'delayed' end the attempt into job_attempts and requeue.
 * A start time the store recorded wins over the one reported, and none is made up (LEAST
 * alone would turn a missing report into now).
 */
export const settle = statement(
  'settle',
  `
-- Params: $1 job ids, $2 new states, $3 run at (retries), $4 results (JSON text), $5 errors (JSON text),
-- $6 start times the agents reported, $7 now
WITH a AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])
    AS a(id, state, run_at, result, error, reported_start)
),
history AS (
  INSERT INTO job_attempts (job_id, attempt, agent_id, lease_token, assigned_at, started_at, finished_at, outcome, error)
  SELECT j.id, j.attempts, j.agent_id, j.lease_token, j.assigned_at,
    COALESCE(j.started_at, CASE WHEN a.reported_start IS NOT NULL THEN LEAST(a.reported_start, $7::bigint) END), $7::bigint, 'failed',
    a.error::json
  FROM a CROSS JOIN LATERAL (SELECT * FROM jobs WHERE id = a.id LIMIT 1) j WHERE a.state IN ('queued', 'delayed')
)
UPDATE jobs j SET
  state = a.state,
  result = CASE WHEN a.state = 'succeeded' THEN a.result::json ELSE j.result END,
  error = CASE WHEN a.state = 'succeeded' THEN NULL ELSE a.error::json END,
  progress = CASE WHEN a.state = 'succeeded' THEN 100 ELSE j.progress END,
  finished_at = CASE WHEN a.state IN ('succeeded', 'failed') THEN $7::bigint ELSE j.finished_at END,
  started_at = CASE WHEN a.state IN ('succeeded', 'failed')
    THEN COALESCE(j.started_at, CASE WHEN a.reported_start IS NOT NULL THEN LEAST(a.reported_start, $7::bigint) END) ELSE j.started_at END,
  run_at = CASE WHEN a.state IN ('queued', 'delayed') THEN a.run_at ELSE j.run_at END,
  agent_id = CASE WHEN a.state IN ('queued', 'delayed') THEN NULL ELSE j.agent_id END,
  lease_token = NULL, lease_expires_at = NULL, updated_at = $7::bigint
FROM a WHERE j.id = ANY($1::text[]) AND j.id = a.id`,
);

/**
 * complete's path for a batch of successes (distinct jobs): lock, check the lease and record,
 * in one statement and one round trip, where lockForSettle + settle take a transaction of four.
 * A workflow's step is left as it is (`done` false, its `workflow_id` says why): its completion
 * advances the workflow, which settleSteps does, locking the workflow first. Writes what settle
 * writes for 'succeeded'.
 */
export const succeed = statement(
  'succeed',
  `
-- Params: $1 job ids (distinct), $2 lease tokens, $3 results (JSON text), $4 start times the agents reported, $5 now
WITH i AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY
    AS i(id, lease_token, result, reported_start, ord)
),
found AS (
  SELECT i.ord, i.id, i.lease_token, i.result, i.reported_start, j.state, j.lease_token AS cur_lease_token,
    j.workflow_id
  FROM (SELECT * FROM i ORDER BY id COLLATE "C") i JOIN jobs j ON j.id = i.id
  ORDER BY i.id COLLATE "C" FOR UPDATE OF j
),
done AS (
  UPDATE jobs j SET state = 'succeeded', result = f.result::json, error = NULL, progress = 100,
    finished_at = $5::bigint,
    started_at = COALESCE(j.started_at, CASE WHEN f.reported_start IS NOT NULL THEN LEAST(f.reported_start, $5::bigint) END),
    lease_token = NULL, lease_expires_at = NULL, updated_at = $5::bigint
  FROM found f WHERE j.id = ANY($1::text[]) AND j.id = f.id
    AND f.cur_lease_token = f.lease_token AND f.state IN ('assigned', 'running') AND f.workflow_id IS NULL
  RETURNING j.id
)
SELECT i.ord, d.id IS NOT NULL AS done, f.state AS cur_state, f.cur_lease_token, f.workflow_id
FROM i LEFT JOIN done d ON d.id = i.id LEFT JOIN found f ON f.ord = i.ord
ORDER BY i.ord`,
);
