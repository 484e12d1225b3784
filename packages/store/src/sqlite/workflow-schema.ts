/**
 * Migration 10: workflows. A step is a job (so scheduling, leases, counts and history treat it
 * as one) whose row names its workflow; what only steps have lives beside it:
 *
 * - `workflows`: one row per workflow, with the counts of its steps in each final state, kept
 *   by the transitions that finish steps (workflow-advance.ts), so an advance never counts a
 *   workflow's steps.
 * - `workflow_steps`: a step's id, its needs (JSON, for display), how many of them have not yet
 *   succeeded, its inputs once released, and the attempts each run of it gets.
 * - `workflow_edges`: need → dependent, by job id, both ways: an advance reads only the
 *   finished step's dependents, a release only the released step's needs.
 *
 * `jobs.workflow_id` is NULL for a plain job, so the plain hot path writes nothing more; the
 * partial indexes hold steps only.
 */
export const WORKFLOWS_SQL = `
  ALTER TABLE jobs ADD COLUMN workflow_id TEXT;
  CREATE INDEX jobs_by_workflow ON jobs (workflow_id, id) WHERE workflow_id IS NOT NULL;
  CREATE INDEX jobs_blocked ON jobs (id) WHERE state = 'blocked';
  CREATE INDEX jobs_skipped ON jobs (id) WHERE state = 'skipped';

  CREATE TABLE workflows (
    id               TEXT PRIMARY KEY,
    owner            TEXT NOT NULL,
    name             TEXT,
    state            TEXT NOT NULL,
    on_failure       TEXT NOT NULL,
    max_steps        INTEGER NOT NULL,
    idempotency_key  TEXT,
    steps            INTEGER NOT NULL,
    succeeded        INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    cancelled        INTEGER NOT NULL DEFAULT 0,
    skipped          INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    updated_at       INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX workflows_idempotency ON workflows (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX workflows_by_owner ON workflows (owner, id);
  CREATE INDEX workflows_by_state ON workflows (state, id);

  CREATE TABLE workflow_steps (
    job_id         TEXT PRIMARY KEY,
    workflow_id    TEXT NOT NULL,
    step           TEXT NOT NULL,
    needs          TEXT NOT NULL,
    needs_left     INTEGER NOT NULL,
    inputs         TEXT,
    attempt_budget INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX workflow_steps_by_id ON workflow_steps (workflow_id, step);

  CREATE TABLE workflow_edges (
    need_job_id      TEXT NOT NULL,
    dependent_job_id TEXT NOT NULL,
    PRIMARY KEY (need_job_id, dependent_job_id)
  ) WITHOUT ROWID;
  CREATE INDEX workflow_edges_by_dependent ON workflow_edges (dependent_job_id, need_job_id);
`;
