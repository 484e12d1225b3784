import type Database from 'better-sqlite3';

/** The workflow statements the SQLite store prepares at init (see workflow-schema.ts). */
export const WORKFLOW_SQL = {
  // Params: the columns named.
  insertWorkflow: `INSERT INTO workflows (id, owner, name, state, on_failure, max_steps, idempotency_key, steps,
      created_at, updated_at)
    VALUES (@id, @owner, @name, 'running', @on_failure, @max_steps, @idempotency_key, @steps, @created_at, @created_at)`,
  getWorkflow: 'SELECT * FROM workflows WHERE id = ?',
  // Params: owner, idempotency key
  workflowByKey: 'SELECT * FROM workflows WHERE owner = ? AND idempotency_key = ?',
  // Params: the columns named. Like insertJob, with the step's workflow.
  insertStepJob: `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources,
      constraints, max_attempts, backoff_ms, timeout_ms, run_at, idempotency_key, created_at, updated_at, workflow_id)
    VALUES (@id, @queue, @task, @owner, @payload, @state, @priority, @priority_level, @resources,
      @constraints, @max_attempts, @backoff_ms, @timeout_ms, @run_at, NULL, @created_at, @updated_at, @workflow_id)`,
  // Params: jobId, workflowId, step, needs (JSON), needsLeft, attemptBudget
  insertStep: `INSERT INTO workflow_steps (job_id, workflow_id, step, needs, needs_left, attempt_budget)
    VALUES (?, ?, ?, ?, ?, ?)`,
  // Params: need job id, dependent job id
  insertEdge: 'INSERT INTO workflow_edges (need_job_id, dependent_job_id) VALUES (?, ?)',
  // Params: workflowId, step. A step's job and its state.
  stepState: `SELECT j.id, j.state FROM workflow_steps s JOIN jobs j ON j.id = s.job_id
    WHERE s.workflow_id = ? AND s.step = ?`,
  // Params: added, now, workflowId
  addStepCount: 'UPDATE workflows SET steps = steps + ?, updated_at = ? WHERE id = ?',
  // Params: jobId. One step as stepsPage reads it.
  stepPageRow: `SELECT j.id, j.task, j.queue, j.state, j.attempts, j.error, j.created_at, j.started_at, j.finished_at,
      s.step, s.needs
    FROM jobs j JOIN workflow_steps s ON s.job_id = j.id WHERE j.id = ?`,
  // Params: jobId
  getStep: 'SELECT * FROM workflow_steps WHERE job_id = ?',
  // Params: workflowId, step
  stepById: 'SELECT job_id FROM workflow_steps WHERE workflow_id = ? AND step = ?',
  // Params: need job id. The dependents still waiting: only a blocked step can be released or skipped.
  blockedDependents: `SELECT j.id, j.queue, s.step FROM workflow_edges e JOIN jobs j ON j.id = e.dependent_job_id
      JOIN workflow_steps s ON s.job_id = j.id
    WHERE e.need_job_id = ? AND j.state = 'blocked'`,
  // Params: jobId. One fewer need unfinished; answers how many are left.
  needSucceeded: 'UPDATE workflow_steps SET needs_left = needs_left - 1 WHERE job_id = ? RETURNING needs_left',
  // Params: jobId, jobId. Its inputs: its needs' results by step id, as JSON (results are stored
  // as JSON text, spliced in without parsing them).
  setInputs: `UPDATE workflow_steps SET inputs = (
      SELECT '{' || COALESCE(group_concat(json_quote(s.step) || ':' || COALESCE(j.result, 'null'), ','), '') || '}'
      FROM workflow_edges e JOIN jobs j ON j.id = e.need_job_id JOIN workflow_steps s ON s.job_id = j.id
      WHERE e.dependent_job_id = ?)
    WHERE job_id = ?`,
  // Params: @now, @id. A blocked step whose needs all succeeded.
  releaseStep: `UPDATE jobs SET state = 'queued', run_at = @now, updated_at = @now WHERE id = @id AND state = 'blocked'`,
  // Params: @error, @now, @id
  skipStep: `UPDATE jobs SET state = 'skipped', error = @error, finished_at = @now, updated_at = @now WHERE id = @id`,
  // Params: @error, @now, @id. As cancelJob, with the reason.
  cancelStep: `UPDATE jobs SET state = 'cancelled', error = @error, finished_at = @now, updated_at = @now,
      lease_token = NULL, lease_expires_at = NULL
    WHERE id = @id`,
  // Params: workflowId. Its steps that have not finished.
  unfinishedSteps: `SELECT id, state, agent_id FROM jobs WHERE workflow_id = ?
      AND state NOT IN ('succeeded', 'failed', 'cancelled', 'skipped')`,
  // Params: @id, @now and one count per final state to add.
  countFinished: `UPDATE workflows SET succeeded = succeeded + @succeeded, failed = failed + @failed,
      cancelled = cancelled + @cancelled, skipped = skipped + @skipped, updated_at = @now
    WHERE id = @id RETURNING *`,
  // Params: @state, @now, @id
  endWorkflow: 'UPDATE workflows SET state = @state, finished_at = @now, updated_at = @now WHERE id = @id RETURNING *',
  // Params: @now, @id
  requestCancel: 'UPDATE workflows SET cancel_requested = 1, updated_at = @now WHERE id = @id',
  // Params: workflowId, after (job id, '' for the start), limit
  stepsPage: `SELECT j.id, j.task, j.queue, j.state, j.attempts, j.error, j.created_at, j.started_at, j.finished_at,
      s.step, s.needs
    FROM jobs j JOIN workflow_steps s ON s.job_id = j.id
    WHERE j.workflow_id = ? AND j.id > ? ORDER BY j.id LIMIT ?`,
  // Params: workflowId. Every step's job id, id, state and needs, for a retry.
  allSteps: `SELECT j.id, j.state, s.step, s.needs FROM jobs j JOIN workflow_steps s ON s.job_id = j.id
    WHERE j.workflow_id = ?`,
  // Params: jobId. A step's last attempt, kept in job_attempts before a retry reuses its row
  // (getAttempts reads a job's last attempt from the row itself).
  keepLastAttempt: `INSERT INTO job_attempts (job_id, attempt, agent_id, lease_token, assigned_at, started_at,
      finished_at, outcome, error)
    SELECT id, attempts, agent_id, COALESCE(lease_token, ''), assigned_at, started_at, finished_at,
      CASE state WHEN 'succeeded' THEN 'succeeded' WHEN 'cancelled' THEN 'cancelled'
        ELSE CASE WHEN json_extract(error, '$.code') = 'LEASE_EXPIRED' THEN 'lease_expired' ELSE 'failed' END END,
      CASE WHEN state = 'failed' THEN error END
    FROM jobs WHERE id = ? AND agent_id IS NOT NULL
      AND attempts > (SELECT COUNT(*) FROM job_attempts WHERE job_id = jobs.id)`,
  // Params: @state, @now, @id. A step to run again: a fresh budget of attempts from the ones it had.
  resetStep: `UPDATE jobs SET state = @state, result = NULL, error = NULL, progress = NULL, finished_at = NULL,
      started_at = NULL, run_at = @now, updated_at = @now, lease_token = NULL, lease_expires_at = NULL,
      max_attempts = attempts + (SELECT attempt_budget FROM workflow_steps WHERE job_id = @id)
    WHERE id = @id`,
  // Params: needsLeft, jobId
  resetNeeds: 'UPDATE workflow_steps SET needs_left = ?, inputs = NULL WHERE job_id = ?',
  // Params: @id, @now and the counts to take away.
  reopenWorkflow: `UPDATE workflows SET state = 'running', finished_at = NULL, cancel_requested = 0, updated_at = @now,
      succeeded = succeeded - @succeeded, failed = failed - @failed, cancelled = cancelled - @cancelled,
      skipped = skipped - @skipped
    WHERE id = @id RETURNING *`,
} as const;

export type WorkflowStatements = Record<keyof typeof WORKFLOW_SQL, Database.Statement<unknown[], unknown>>;
