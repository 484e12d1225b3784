import { statement } from './statement.js';

/**
 * Workflows (migration 8, ../workflow-schema.ts): creating, reading and listing them. The
 * statements that advance them are in ./workflow-advance.ts. Every statement that changes a
 * workflow's steps runs with the workflow's row locked (lockWorkflows), so the steps of one
 * workflow change one transaction at a time.
 */

/** Final job states, as SQL. */
export const FINAL = `('succeeded', 'failed', 'cancelled', 'skipped')`;

/**
 * A step's inputs, for a `workflow_steps` row aliased `s` whose needs have all succeeded: the
 * needs' results by step id, `{}` for a step with no needs. Each need's job is one pruned probe.
 */
export const INPUTS_OF_STEP = `COALESCE((
  SELECT json_object_agg(ns.step, nj.result)
  FROM workflow_edges ne JOIN workflow_steps ns ON ns.job_id = ne.need_id
  CROSS JOIN LATERAL (SELECT result FROM jobs WHERE id = ne.need_id LIMIT 1) nj
  WHERE ne.dependent_id = s.job_id
), '{}'::json)`;

/** Creates the workflow row, unless its (owner, idempotency key) exists: then no row. */
export const insertWorkflow = statement(
  'insert_workflow',
  `
-- Params: $1 id, $2 owner, $3 name, $4 on failure, $5 max steps, $6 idempotency key, $7 steps, $8 created at
INSERT INTO workflows (id, owner, name, state, on_failure, max_steps, idempotency_key, steps, created_at, updated_at)
VALUES ($1::text, $2::text, $3::text, 'running', $4::text, $5::int, $6::text, $7::int, $8::bigint, $8::bigint)
ON CONFLICT (owner, idempotency_key) DO NOTHING
RETURNING *`,
);

export const workflowByKey = statement(
  'workflow_by_key',
  `
-- Params: $1 owner, $2 idempotency key
SELECT * FROM workflows WHERE owner = $1::text AND idempotency_key = $2::text`,
);

export const getWorkflow = statement(
  'get_workflow',
  `
-- Params: $1 id
SELECT * FROM workflows WHERE id = $1::text`,
);

/**
 * Inserts a workflow's steps in one statement: their jobs (as enqueue does, with the state the
 * caller chose and the workflow id), their step rows and their edges. Steps without needs are
 * released at once, with no inputs (`{}`). Each step's needs_left is the caller's: all its
 * needs for a new workflow, the needs not yet succeeded for steps addSteps adds. A step's job
 * claims no idempotency key: the workflow's key is the one that counts.
 */
export const insertSteps = statement(
  'insert_steps',
  `
-- Params: $1 ids, $2 queues, $3 tasks, $4 owners, $5 payloads (JSON text), $6 priority ranks,
-- $7 priority levels, $8 resources (JSON), $9 constraints (JSON), $10 max attempts,
-- $11 backoff ms, $12 timeout ms, $13 run at, $14 idempotency keys, $15 created at,
-- $16 states, $17 step ids, $18 needs (JSON arrays of step ids), $19 workflow id,
-- $20 edge need job ids, $21 edge dependent job ids (pairwise), $22 needs left
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::int[],
    $8::text[], $9::text[], $10::int[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::bigint[],
    $16::text[], $17::text[], $18::text[], $22::int[])
    AS i(id, queue, task, owner, payload, priority, priority_level, resources, constraints, max_attempts,
      backoff_ms, timeout_ms, run_at, idempotency_key, created_at, state, step, needs, needs_left)
),
steps AS (
  INSERT INTO workflow_steps (job_id, workflow_id, step, needs, needs_left, inputs, max_attempts)
  SELECT id, $19::text, step, ARRAY(SELECT json_array_elements_text(needs::json)), needs_left,
    CASE WHEN json_array_length(needs::json) = 0 THEN '{}'::json END, max_attempts
  FROM input
),
edges AS (
  INSERT INTO workflow_edges (need_id, dependent_id)
  SELECT * FROM unnest($20::text[], $21::text[])
)
INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources, constraints,
  max_attempts, backoff_ms, timeout_ms, run_at, idempotency_key, created_at, updated_at, workflow_id)
SELECT id, queue, task, owner, payload::json, state, priority, priority_level, resources::jsonb, constraints::jsonb,
  max_attempts, backoff_ms, timeout_ms, run_at, idempotency_key, created_at, created_at, $19::text
FROM input
RETURNING id, queue, state, run_at`,
);

/**
 * A page of a workflow's steps in creation (job id) order, each read from its job by one
 * pruned probe.
 */
export const workflowSteps = statement(
  'workflow_steps',
  `
-- Params: $1 workflow id, $2 after job id ('' for the first page), $3 limit
SELECT s.step, s.job_id, s.needs, j.task, j.queue, j.state, j.attempts, j.error, j.created_at, j.started_at,
  j.finished_at
FROM (
  SELECT * FROM workflow_steps WHERE workflow_id = $1::text AND job_id > $2::text ORDER BY job_id LIMIT $3::int
) s
CROSS JOIN LATERAL (SELECT * FROM jobs WHERE id = s.job_id LIMIT 1) j
ORDER BY s.job_id`,
);

/**
 * Locks workflows for a transition of their steps, in id order (so transactions locking
 * several cannot deadlock on them). Taken before any of their steps' jobs.
 */
export const lockWorkflows = statement(
  'lock_workflows',
  `
-- Params: $1 workflow ids
SELECT * FROM workflows WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
);

/** Writes a locked workflow's counts and state, as the transaction computed them. */
export const saveWorkflow = statement(
  'save_workflow',
  `
-- Params: $1 id, $2 state, $3 succeeded, $4 failed, $5 cancelled, $6 skipped, $7 cancel requested,
-- $8 finished at, $9 now
UPDATE workflows SET state = $2::text, succeeded = $3::int, failed = $4::int, cancelled = $5::int,
  skipped = $6::int, cancel_requested = $7::boolean, finished_at = $8::bigint, updated_at = $9::bigint
WHERE id = $1::text
RETURNING *`,
);

/**
 * Cancels every unfinished step of a (locked) workflow with one error, locking their jobs in
 * id order; answers each with the state it was in and its agent, so leased ones can be told.
 */
export const cancelUnfinished = statement(
  'cancel_unfinished',
  `
-- Params: $1 workflow id, $2 error (JSON text), $3 now
WITH target AS (
  SELECT j.id, j.state, j.agent_id
  FROM (SELECT job_id FROM workflow_steps WHERE workflow_id = $1::text ORDER BY job_id) s
  JOIN jobs j ON j.id = s.job_id
  WHERE j.state NOT IN ${FINAL}
  ORDER BY s.job_id FOR UPDATE OF j
)
UPDATE jobs j SET state = 'cancelled', error = $2::json, finished_at = $3::bigint, updated_at = $3::bigint,
  lease_token = NULL, lease_expires_at = NULL
FROM target t WHERE j.id = ANY(ARRAY(SELECT id FROM target)) AND j.id = t.id
RETURNING j.id, t.state AS old_state, t.agent_id`,
);

/** Cancels one step's job (its workflow locked first); no row: it was already final. */
export const cancelStep = statement(
  'cancel_step',
  `
-- Params: $1 now, $2 id
UPDATE jobs SET state = 'cancelled', finished_at = $1::bigint, updated_at = $1::bigint,
  lease_token = NULL, lease_expires_at = NULL
WHERE id = $2::text AND state NOT IN ${FINAL}
RETURNING id`,
);
