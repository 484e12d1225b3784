import { ASSIGN_LIMITED } from './quotas.js';
import { statement } from './statement.js';

/** Moving jobs toward agents: promotion of due jobs, pending work, assignment, lease expiry. */

/** Jobs promoted or expired per call; the answer's next time is already due when more wait. */
export const SWEEP_BATCH = 1000;

/**
 * Promotes up to a batch of due delayed jobs, skipping rows another transaction holds (a
 * cancel in flight). The next run time is read in the same statement: the snapshot still
 * shows the promoted rows as delayed, so they are left out by id.
 */
export const promoteDue = statement(
  'promote_due',
  `
-- Params: $1 now, $2 batch size
WITH due AS (
  SELECT id FROM jobs WHERE state = 'delayed' AND run_at <= $1::bigint
  ORDER BY run_at LIMIT $2::int FOR UPDATE SKIP LOCKED
),
promoted AS (
  UPDATE jobs j SET state = 'queued', updated_at = $1::bigint FROM due
  WHERE j.id = ANY(ARRAY(SELECT id FROM due)) AND j.id = due.id
  RETURNING j.id
)
SELECT (SELECT count(*) FROM promoted) AS promoted,
  (SELECT min(run_at) FROM jobs WHERE state = 'delayed' AND id NOT IN (SELECT id FROM promoted)) AS next_run_at`,
);

/** What pending answers of each job (rows.ts, PendingRow). */
const PENDING_COLUMNS =
  'j.id, j.queue, j.task, j.owner, j.priority, j.priority_level, j.resources, j.constraints, j.avoid_agent_id, j.timeout_ms';

/** The best queued jobs of each requested queue, in request order then scheduling order. */
export const pending = statement(
  'pending',
  `
-- Params: $1 queues, $2 limits (pairwise)
SELECT ${PENDING_COLUMNS}
FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS r(queue, lim, ord)
CROSS JOIN LATERAL (
  SELECT * FROM jobs WHERE state = 'queued' AND queue = r.queue
  ORDER BY priority, priority_level DESC, id LIMIT r.lim
) j
ORDER BY r.ord, j.priority, j.priority_level DESC, j.id`,
);

/**
 * Per-owner heads: the best queued jobs of each owner with any queued in each requested queue,
 * in request order then scheduling order. The owners come from the counters (owner_counts_queued,
 * O(the queue's owners)), and each owner's jobs from one range of jobs_queued_by_owner under the
 * limit, so an owner with a long backlog costs no more than one with a single job.
 */
export const pendingPerOwner = statement(
  'pending_per_owner',
  `
-- Params: $1 queues, $2 limits (pairwise)
SELECT ${PENDING_COLUMNS}
FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS r(queue, lim, ord)
CROSS JOIN LATERAL (
  SELECT owner FROM owner_counts WHERE queue = r.queue AND state = 'queued' GROUP BY owner HAVING sum(n) > 0
) o
CROSS JOIN LATERAL (
  SELECT * FROM jobs WHERE state = 'queued' AND queue = r.queue AND owner = o.owner
  ORDER BY priority, priority_level DESC, id LIMIT r.lim
) j
ORDER BY r.ord, j.priority, j.priority_level DESC, j.id`,
);

/**
 * Keyset pages: the best queued jobs of each queue after a job (its priority rank, level, id),
 * as three index ranges read in order: the rest of its level, the lower levels of its class,
 * the later classes. Each is an index range scan under the limit, never a scan of what lies
 * before the cursor.
 */
export const pendingAfter = statement(
  'pending_after',
  `
-- Params: $1 queues, $2 limits, $3 ranks, $4 levels, $5 ids (pairwise)
SELECT ${PENDING_COLUMNS}
FROM unnest($1::text[], $2::int[], $3::smallint[], $4::int[], $5::text[]) WITH ORDINALITY AS r(queue, lim, rank, lvl, after_id, ord)
CROSS JOIN LATERAL (
  SELECT * FROM (
    (SELECT * FROM jobs WHERE state = 'queued' AND queue = r.queue AND priority = r.rank AND priority_level = r.lvl
      AND id > r.after_id ORDER BY id LIMIT r.lim)
    UNION ALL
    (SELECT * FROM jobs WHERE state = 'queued' AND queue = r.queue AND priority = r.rank AND priority_level < r.lvl
      ORDER BY priority_level DESC, id LIMIT r.lim)
    UNION ALL
    (SELECT * FROM jobs WHERE state = 'queued' AND queue = r.queue AND priority > r.rank
      ORDER BY priority, priority_level DESC, id LIMIT r.lim)
  ) page LIMIT r.lim
) j
ORDER BY r.ord, j.priority, j.priority_level DESC, j.id`,
);

/**
 * Assigns a batch of placements (each job at most once: the caller drops repeats). A job is
 * locked with SKIP LOCKED and assigned only while still queued, so two schedulers racing for
 * one job assign it once: the loser skips it, or finds it no longer queued (the lock reads the
 * row's newest version). Each job is found by one index probe in the one partition its id
 * hashes to (see ./statement.ts on locking jobs by id). avoid_agent_id stays: it names the
 * agent whose lease last expired.
 *
 * Quotas: with $8 true, the statement first asks whether any quota limits assignment
 * (ASSIGN_LIMITED); if one does, it assigns nothing and answers one row with \`limited\` true,
 * and the caller assigns under the owners' quota locks instead (../quotas.ts), calling this
 * again with $8 false. Otherwise every row has \`limited\` false; one row of nulls (id null)
 * stands for an assignment of nothing.
 */
export const assign = statement(
  'assign',
  `
-- Params: $1 job ids, $2 agent ids, $3 lease tokens, $4 GPU indices (array literals), $5 ordinals,
-- $6 lease expiry, $7 now, $8 whether to stop when a quota limits assignment
WITH gate AS (
  SELECT $8::boolean AND ${ASSIGN_LIMITED} AS limited
),
p AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])
    AS p(id, agent_id, lease_token, gpus, ord)
  WHERE NOT (SELECT limited FROM gate)
),
locked AS (
  SELECT p.*, j.state FROM p JOIN jobs j ON j.id = p.id FOR UPDATE OF j SKIP LOCKED
),
assigned AS (
  UPDATE jobs j SET state = 'assigned', agent_id = p.agent_id, lease_token = p.lease_token,
    lease_expires_at = $6::bigint, gpus = p.gpus::int[], attempts = j.attempts + 1, progress = NULL,
    started_at = NULL, assigned_at = $7::bigint, updated_at = $7::bigint
  FROM locked p
  WHERE j.id = ANY($1::text[]) AND j.id = p.id AND p.state = 'queued'
  RETURNING p.ord, j.id, j.queue, j.task, j.owner, j.payload, j.attempts, j.max_attempts, j.timeout_ms, j.resources,
    j.workflow_id
)
SELECT gate.limited, a.*, s.workflow_step, s.workflow_inputs FROM gate LEFT JOIN assigned a ON true
LEFT JOIN LATERAL (
  -- A step's place and inputs; gated on workflow_id, so a plain job probes nothing.
  SELECT step AS workflow_step, inputs AS workflow_inputs FROM workflow_steps
  WHERE job_id = a.id AND a.workflow_id IS NOT NULL
) s ON true`,
);

/**
 * Ends up to a batch of leases that ran out: a job with attempts left records the attempt and
 * goes back to queued (its agent becomes the one placement avoids); one on its last attempt
 * fails with LEASE_EXPIRED. Also answers when the next remaining lease runs out. A workflow
 * step on its last attempt is left as it is and answered in `steps`: failing it advances its
 * workflow, which ../workflow-settle.ts does with the workflow locked first.
 */
export const expireLeases = statement(
  'expire_leases',
  `
-- Params: $1 now, $2 batch size
WITH due AS (
  SELECT id, attempts, max_attempts, agent_id, lease_token, assigned_at, started_at, workflow_id,
    json_build_object('code', 'LEASE_EXPIRED',
      'message', 'agent ' || COALESCE(agent_id, '?') || ' stopped renewing its lease', 'retryable', true) AS error
  FROM jobs WHERE state IN ('assigned', 'running') AND lease_expires_at <= $1::bigint
  ORDER BY lease_expires_at LIMIT $2::int FOR UPDATE SKIP LOCKED
),
history AS (
  INSERT INTO job_attempts (job_id, attempt, agent_id, lease_token, assigned_at, started_at, finished_at, outcome, error)
  SELECT id, attempts, agent_id, lease_token, assigned_at, started_at, $1::bigint, 'lease_expired', error
  FROM due WHERE attempts < max_attempts
),
ended AS (
  UPDATE jobs j SET
    state = CASE WHEN due.attempts < due.max_attempts THEN 'queued' ELSE 'failed' END,
    run_at = CASE WHEN due.attempts < due.max_attempts THEN $1::bigint ELSE j.run_at END,
    finished_at = CASE WHEN due.attempts < due.max_attempts THEN j.finished_at ELSE $1::bigint END,
    avoid_agent_id = CASE WHEN due.attempts < due.max_attempts THEN j.agent_id ELSE j.avoid_agent_id END,
    agent_id = CASE WHEN due.attempts < due.max_attempts THEN NULL ELSE j.agent_id END,
    error = due.error, lease_token = NULL, lease_expires_at = NULL, updated_at = $1::bigint
  FROM due WHERE j.id = ANY(ARRAY(SELECT id FROM due)) AND j.id = due.id
    AND (due.attempts < due.max_attempts OR due.workflow_id IS NULL)
  RETURNING j.id, j.state, j.lease_expires_at
)
SELECT
  (SELECT COALESCE(json_agg(json_build_array(id, state)), '[]') FROM ended) AS ended,
  (SELECT COALESCE(json_agg(json_build_array(id, workflow_id)), '[]') FROM due
    WHERE attempts >= max_attempts AND workflow_id IS NOT NULL) AS steps,
  (SELECT min(lease_expires_at) FROM jobs
    WHERE state IN ('assigned', 'running') AND id NOT IN (SELECT id FROM due)) AS next_expiry_at`,
);
