import { statement } from './statement.js';
import { INPUTS_OF_STEP } from './workflows.js';

/**
 * addSteps (../workflow-growth.ts): a running step grows its workflow. Every statement runs
 * with the workflow's row locked (lockWorkflows), so no sibling step finishes, and no other
 * growth lands, between the reads and the writes. The new steps' jobs, step rows and edges
 * are inserted by insertSteps (./workflows.ts), as a new workflow's are.
 */

/**
 * The job growing a workflow: its workflow and lease, read under the workflow's lock (every
 * transition that would end it locks that row first, so it cannot end while this runs).
 */
export const growingJob = statement(
  'growing_job',
  `
-- Params: $1 job id
SELECT workflow_id, state, lease_token, lease_expires_at FROM jobs WHERE id = $1::text`,
);

/**
 * The workflow's steps among the given step ids (a new step's id that clashes, or a need),
 * with their jobs' states: one probe of the (workflow_id, step) index per name, so growing a
 * workflow never reads the whole of it.
 */
export const namedSteps = statement(
  'named_steps',
  `
-- Params: $1 workflow id, $2 step ids
SELECT s.step, s.job_id, j.state
FROM unnest($2::text[]) AS n(step)
CROSS JOIN LATERAL (SELECT step, job_id FROM workflow_steps WHERE workflow_id = $1::text AND step = n.step OFFSET 0) s
CROSS JOIN LATERAL (SELECT state FROM jobs WHERE id = s.job_id LIMIT 1) j`,
);

/**
 * New steps whose needs had all succeeded (inserted `queued` or `delayed`) get their inputs:
 * their needs' results, read through the edges the insert wrote (a statement cannot see rows
 * its own CTEs insert, so this is a statement of its own).
 */
export const setInputs = statement(
  'set_added_inputs',
  `
-- Params: $1 job ids
UPDATE workflow_steps s SET inputs = ${INPUTS_OF_STEP}
WHERE s.job_id = ANY($1::text[])`,
);

/** Writes a grown workflow's step count, its skipped count and its state. */
export const saveGrown = statement(
  'save_grown_workflow',
  `
-- Params: $1 id, $2 steps, $3 skipped, $4 state, $5 finished at, $6 now
UPDATE workflows SET steps = $2::int, skipped = $3::int, state = $4::text, finished_at = $5::bigint,
  updated_at = $6::bigint
WHERE id = $1::text
RETURNING *`,
);

/** Steps by job id, in the order given, each read from its job by one pruned probe. */
export const stepsByJob = statement(
  'steps_by_job',
  `
-- Params: $1 job ids
SELECT s.step, s.job_id, s.needs, j.task, j.queue, j.state, j.attempts, j.error, j.created_at, j.started_at,
  j.finished_at
FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)
CROSS JOIN LATERAL (SELECT step, job_id, needs FROM workflow_steps WHERE job_id = u.id OFFSET 0) s
CROSS JOIN LATERAL (SELECT * FROM jobs WHERE id = u.id LIMIT 1) j
ORDER BY u.n`,
);
