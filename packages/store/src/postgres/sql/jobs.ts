import { statement } from './statement.js';

/** Creating, reading, listing and cancelling jobs; queue statistics (task routes: ./routes.ts). */

/**
 * Inserts a batch of jobs in one statement. A keyed job is inserted only if its
 * (owner, idempotency_key) claim in job_idempotency succeeds in the same statement; the caller
 * reads the existing jobs of the keys that were taken (see getByIdempotencyKeys).
 */
export const enqueue = statement(
  'enqueue',
  `
-- Params: $1 ids, $2 queues, $3 tasks, $4 owners, $5 payloads (JSON text), $6 priority ranks,
-- $7 priority levels, $8 resources (JSON), $9 constraints (JSON), $10 max attempts,
-- $11 backoff ms, $12 timeout ms, $13 run at, $14 idempotency keys, $15 created at, $16 now
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::int[],
    $8::text[], $9::text[], $10::int[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::bigint[])
    AS i(id, queue, task, owner, payload, priority, priority_level, resources, constraints, max_attempts,
      backoff_ms, timeout_ms, run_at, idempotency_key, created_at)
),
claimed AS (
  INSERT INTO job_idempotency (owner, idempotency_key, job_id)
  SELECT owner, idempotency_key, id FROM input WHERE idempotency_key IS NOT NULL
  ORDER BY owner, idempotency_key -- one claim order for every batch: no deadlock between them
  ON CONFLICT DO NOTHING
  RETURNING job_id
)
INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources, constraints,
  max_attempts, backoff_ms, timeout_ms, run_at, idempotency_key, created_at, updated_at)
SELECT id, queue, task, owner, payload::json, CASE WHEN run_at > $16::bigint THEN 'delayed' ELSE 'queued' END,
  priority, priority_level, resources::jsonb, constraints::jsonb, max_attempts, backoff_ms, timeout_ms, run_at,
  idempotency_key, created_at, created_at
FROM input
WHERE idempotency_key IS NULL OR id IN (SELECT job_id FROM claimed)
RETURNING *`,
);

export const getByIdempotencyKeys = statement(
  'get_by_idempotency_keys',
  `
-- Params: $1 owners, $2 idempotency keys (pairwise)
SELECT j.* FROM job_idempotency k CROSS JOIN LATERAL (SELECT * FROM jobs WHERE id = k.job_id LIMIT 1) j
WHERE (k.owner, k.idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
);

/**
 * A job's step row, joined after `FROM jobs j` (as `s`): the lateral probe is gated on
 * `j.workflow_id IS NOT NULL` (a one-time filter), so a plain job costs no probe of
 * workflow_steps at all.
 */
export const STEP_OF_JOB = `LEFT JOIN LATERAL (
  SELECT step AS workflow_step, needs AS workflow_needs, inputs AS workflow_inputs
  FROM workflow_steps WHERE job_id = j.id AND j.workflow_id IS NOT NULL
) s ON true`;

export const getJob = statement(
  'get_job',
  `
-- Params: $1 id
SELECT j.*, s.* FROM jobs j ${STEP_OF_JOB} WHERE j.id = $1::text`,
);

/**
 * Attempts that ended without ending the job have rows; the job's latest attempt, running or
 * final, is read from the job row itself (on_job), which saves a write per job on the hot path.
 * A job that failed by LEASE_EXPIRED reads as 'failed' here: the caller tells it by the error's
 * code, since JSON operators refuse errors holding NUL characters. `skipped` is no attempt's
 * outcome: a step is skipped only while blocked, when its last attempt (if any) already has
 * its row (a retry writes it, see keepLastAttempts in ./workflow-advance.ts).
 */
export const getAttempts = statement(
  'get_attempts',
  `
-- Params: $1 job id
SELECT attempt, agent_id, assigned_at, started_at, finished_at, outcome, error, false AS on_job
  FROM job_attempts WHERE job_id = $1::text
UNION ALL
SELECT attempts, agent_id, assigned_at, started_at,
  CASE WHEN state IN ('succeeded', 'failed', 'cancelled') THEN finished_at END,
  CASE WHEN state IN ('succeeded', 'failed', 'cancelled') THEN state END,
  CASE WHEN state = 'failed' THEN error END, true
  FROM jobs WHERE id = $1::text AND attempts > (SELECT count(*) FROM job_attempts WHERE job_id = $1::text)
ORDER BY 1`,
);

/**
 * Cancels a plain job that is not final; no row means unknown, final, or a workflow's step
 * (the caller reads which: a step's cancel advances its workflow, see ../workflow-cancel.ts).
 */
export const cancelJob = statement(
  'cancel_job',
  `
-- Params: $1 now, $2 id
UPDATE jobs SET state = 'cancelled', finished_at = $1::bigint, updated_at = $1::bigint,
  lease_token = NULL, lease_expires_at = NULL
WHERE id = $2::text AND state NOT IN ('succeeded', 'failed', 'cancelled', 'skipped') AND workflow_id IS NULL
RETURNING *`,
);

/**
 * Job counts per queue and state from the counters migration 4's triggers keep (see
 * ../queue-counts.ts): the slots of each (queue, state) summed, never a scan of jobs.
 */
export const countByQueueState = statement(
  'count_by_queue_state',
  `
-- Params: none
SELECT queue, state, sum(n)::bigint AS n FROM queue_counts GROUP BY queue, state HAVING sum(n) > 0`,
);

/**
 * Each listed queue's longest wait: a job's wait starts when it became runnable, and never
 * before it was created. One probe of jobs_queued_since per queue and partition (a Merge Append
 * under the LIMIT); a queue with no queued job has no row.
 */
export const oldestQueued = statement(
  'oldest_queued',
  `
-- Params: $1 queues
SELECT q.queue, o.since FROM unnest($1::text[]) AS q(queue)
CROSS JOIN LATERAL (
  SELECT GREATEST(run_at, created_at) AS since FROM jobs WHERE state = 'queued' AND queue = q.queue
  ORDER BY GREATEST(run_at, created_at) LIMIT 1
) o`,
);

/**
 * Retention: deletes the oldest final plain jobs (a step's job is never deleted: a retry of its
 * workflow may need its result; migration 8's index holds plain jobs only) (`which`: of every final state, or of one) finished
 * before the cut-off with their attempts, output and idempotency claims, in one statement. Jobs
 * another transaction holds (a second deleteFinished, a late report being refused) are
 * skipped, not waited for.
 */
function deleteFinishedSql(which: string): string {
  return `
-- Params: $1 finished before (epoch ms), $2 limit${which.includes('$3') ? ', $3 state' : ''}
WITH doomed AS (
  SELECT id FROM jobs
  WHERE state IN ('succeeded', 'failed', 'cancelled') AND workflow_id IS NULL AND ${which} AND finished_at < $1::bigint
  ORDER BY finished_at, id LIMIT $2::bigint
  FOR UPDATE SKIP LOCKED
),
gone AS (
  DELETE FROM jobs j USING doomed d WHERE j.id = ANY(ARRAY(SELECT id FROM doomed)) AND j.id = d.id RETURNING j.id, j.owner, j.idempotency_key
),
claims AS (
  DELETE FROM job_idempotency k USING gone g
  WHERE k.owner = g.owner AND k.idempotency_key = g.idempotency_key AND k.job_id = g.id
),
attempts AS (
  DELETE FROM job_attempts a USING gone g WHERE a.job_id = g.id
),
logs AS (
  DELETE FROM job_logs l USING gone g WHERE l.job_id = g.id
),
tails AS (
  DELETE FROM job_log_tails t USING gone g WHERE t.job_id = g.id
)
SELECT count(*)::int AS deleted FROM gone`;
}

export const deleteFinished = statement('delete_finished', deleteFinishedSql('true'));

/** The same for one final state: it walks the same index by finish time, skipping other states. */
export const deleteFinishedInState = statement('delete_finished_in_state', deleteFinishedSql('state = $3::text'));
