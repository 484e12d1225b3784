import { statement } from './statement.js';
import { FINAL, INPUTS_OF_STEP } from './workflows.js';

/**
 * Advancing workflows (../workflow-advance.ts) and retrying them (../workflow-control.ts).
 * Each runs in the transaction that finished the steps, with their workflows locked.
 */

/**
 * After steps succeeded: each dependent's needs_left drops by the number of its needs among
 * them (one decrement per edge, so a batch finishing many needs of one join counts each once),
 * and a blocked dependent with none left is released, its inputs read in the same statement,
 * `queued` (or `delayed` until its runAt). Its wait starts now: run_at is at least now.
 */
export const releaseDependents = statement(
  'release_dependents',
  `
-- Params: $1 succeeded job ids, $2 now
WITH e AS (
  SELECT dependent_id AS id, count(*)::int AS n FROM workflow_edges WHERE need_id = ANY($1::text[])
  GROUP BY dependent_id
),
dec AS (
  UPDATE workflow_steps s SET needs_left = s.needs_left - e.n,
    inputs = CASE WHEN s.needs_left - e.n = 0 AND j.state = 'blocked' THEN ${INPUTS_OF_STEP} ELSE s.inputs END
  FROM e CROSS JOIN LATERAL (SELECT state FROM jobs WHERE id = e.id LIMIT 1) j
  WHERE s.job_id = e.id
  RETURNING s.job_id, s.needs_left, j.state
),
ready AS (
  -- Blocked as read in dec, under the workflow's lock. No state test in the UPDATE below: one
  -- lets the planner take a partial index probed with the whole id array for every row (10 000
  -- dependents of one step: 10⁸ probes, minutes).
  SELECT job_id AS id FROM dec WHERE needs_left = 0 AND state = 'blocked'
)
UPDATE jobs j SET state = CASE WHEN j.run_at > $2::bigint THEN 'delayed' ELSE 'queued' END,
  run_at = GREATEST(j.run_at, $2::bigint), updated_at = $2::bigint
FROM ready WHERE j.id = ANY(ARRAY(SELECT id FROM ready)) AND j.id = ready.id
RETURNING j.id, j.queue, j.state, j.run_at`,
);

/**
 * The unfinished steps that need the given unsuccessful steps, directly or not, each with one
 * need that did not succeed (a direct one's own state, else `skipped`) and its workflow.
 * Every step of the walk is an index probe per row (`OFFSET 0` keeps each lateral subquery
 * from being flattened into a join the generic plan could hash over whole tables): the walk
 * costs the edges it follows, whatever other workflows hold.
 */
export const unfinishedDependents = statement(
  'unfinished_dependents',
  `
-- Params: $1 unsuccessful job ids, $2 their states (pairwise)
WITH RECURSIVE walk(job_id, need_id, need_state) AS (
  SELECT e.dependent_id, e.need_id, f.state FROM unnest($1::text[], $2::text[]) AS f(id, state)
  CROSS JOIN LATERAL (SELECT need_id, dependent_id FROM workflow_edges WHERE need_id = f.id OFFSET 0) e
  UNION
  SELECT e.dependent_id, e.need_id, 'skipped' FROM walk w
  CROSS JOIN LATERAL (SELECT need_id, dependent_id FROM workflow_edges WHERE need_id = w.job_id OFFSET 0) e
)
SELECT DISTINCT ON (w.job_id) w.job_id, ds.workflow_id, ns.step AS need_step, w.need_state
FROM walk w
CROSS JOIN LATERAL (SELECT step FROM workflow_steps WHERE job_id = w.need_id OFFSET 0) ns
CROSS JOIN LATERAL (SELECT workflow_id FROM workflow_steps WHERE job_id = w.job_id OFFSET 0) ds
CROSS JOIN LATERAL (SELECT state FROM jobs WHERE id = w.job_id LIMIT 1) j
WHERE j.state NOT IN ${FINAL}
ORDER BY w.job_id, w.need_state = 'skipped', ns.step`,
);

/** Ends unfinished steps skipped, each with its error; answers those it changed. */
export const skipSteps = statement(
  'skip_steps',
  `
-- Params: $1 job ids, $2 errors (JSON text), $3 now
WITH a AS (
  SELECT * FROM unnest($1::text[], $2::text[]) AS a(id, error)
)
UPDATE jobs j SET state = 'skipped', error = a.error::json, finished_at = $3::bigint, updated_at = $3::bigint,
  lease_token = NULL, lease_expires_at = NULL
FROM a WHERE j.id = ANY($1::text[]) AND j.id = a.id AND j.state NOT IN ${FINAL}
RETURNING j.id`,
);

/** Step ids of steps' jobs. */
export const stepNames = statement(
  'step_names',
  `
-- Params: $1 job ids
SELECT job_id, step FROM workflow_steps WHERE job_id = ANY($1::text[])`,
);

/**
 * Fails steps whose lease ran out on their last attempt (expireLeases leaves them to this, so
 * their workflows are locked first): locked in id order, rechecked, failed as expireLeases
 * fails a plain job.
 */
export const failExpiredSteps = statement(
  'fail_expired_steps',
  `
-- Params: $1 job ids, $2 now
WITH locked AS (
  SELECT j.id, j.state, j.lease_expires_at, j.attempts, j.max_attempts
  FROM (SELECT id FROM unnest($1::text[]) AS u(id) ORDER BY id COLLATE "C") u JOIN jobs j ON j.id = u.id
  ORDER BY u.id COLLATE "C" FOR UPDATE OF j
),
due AS (
  SELECT id FROM locked
  WHERE state IN ('assigned', 'running') AND lease_expires_at <= $2::bigint AND attempts >= max_attempts
)
UPDATE jobs j SET state = 'failed', finished_at = $2::bigint,
  error = json_build_object('code', 'LEASE_EXPIRED',
    'message', 'agent ' || COALESCE(j.agent_id, '?') || ' stopped renewing its lease', 'retryable', true),
  lease_token = NULL, lease_expires_at = NULL, updated_at = $2::bigint
FROM due WHERE j.id = ANY(ARRAY(SELECT id FROM due)) AND j.id = due.id
RETURNING j.id, j.workflow_id`,
);

/** Every step of a workflow with its job's state and attempts, for a retry to choose from. */
export const stepsForRetry = statement(
  'steps_for_retry',
  `
-- Params: $1 workflow id
SELECT s.job_id, s.step, s.needs, s.max_attempts AS base_attempts, j.state, j.attempts, j.queue, j.run_at
FROM workflow_steps s CROSS JOIN LATERAL (SELECT state, attempts, queue, run_at FROM jobs WHERE id = s.job_id LIMIT 1) j
WHERE s.workflow_id = $1::text
ORDER BY s.job_id`,
);

/**
 * A retry keeps the history: the last attempt of each step it re-runs, which lives on the job
 * row (see getAttempts in ./jobs.ts), becomes a job_attempts row first.
 */
export const keepLastAttempts = statement(
  'keep_last_attempts',
  `
-- Params: $1 job ids
INSERT INTO job_attempts (job_id, attempt, agent_id, lease_token, assigned_at, started_at, finished_at, outcome, error)
SELECT j.id, j.attempts, COALESCE(j.agent_id, ''), COALESCE(j.lease_token, ''), j.assigned_at, j.started_at,
  j.finished_at,
  CASE WHEN j.state = 'failed' AND j.error::text ~ '"code"\\s*:\\s*"LEASE_EXPIRED"' THEN 'lease_expired' ELSE j.state END,
  CASE WHEN j.state = 'succeeded' THEN NULL ELSE j.error END
FROM unnest($1::text[]) AS u(id) CROSS JOIN LATERAL (SELECT * FROM jobs WHERE id = u.id LIMIT 1) j
WHERE j.state IN ('succeeded', 'failed', 'cancelled') AND j.assigned_at IS NOT NULL
  AND j.attempts > (SELECT count(*) FROM job_attempts WHERE job_id = j.id)`,
);

/**
 * Puts steps back for a retry: their result, error and attempt cleared, a fresh budget of
 * attempts, `blocked` or `queued` as the caller decided; their step rows' needs_left and
 * inputs (read now for a queued one) to match.
 */
export const resetSteps = statement(
  'reset_steps',
  `
-- Params: $1 job ids, $2 states, $3 needs left, $4 now
WITH a AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) AS a(id, state, needs_left)
),
steps AS (
  UPDATE workflow_steps s SET needs_left = a.needs_left,
    inputs = CASE WHEN a.state = 'blocked' THEN NULL ELSE ${INPUTS_OF_STEP} END
  FROM a WHERE s.job_id = a.id
  RETURNING s.job_id, s.max_attempts
)
UPDATE jobs j SET state = a.state, result = NULL, error = NULL, progress = NULL, agent_id = NULL, gpus = '{}',
  avoid_agent_id = NULL, lease_token = NULL, lease_expires_at = NULL, started_at = NULL, finished_at = NULL,
  max_attempts = j.attempts + steps.max_attempts,
  run_at = CASE WHEN a.state = 'blocked' THEN j.run_at ELSE GREATEST(j.run_at, $4::bigint) END,
  updated_at = $4::bigint
FROM a JOIN steps ON steps.job_id = a.id
WHERE j.id = ANY($1::text[]) AND j.id = a.id
RETURNING j.id, j.queue, j.state, j.run_at`,
);
