/**
 * Migration 8: workflows. Part of a shipped migration once released: never change it, add a
 * migration.
 *
 * - `jobs.workflow_id`: the step's workflow, NULL for a plain job. Added without a default, so
 *   the ALTER rewrites nothing, and plain jobs pay nothing but reading a NULL.
 * - `workflows`: one row per workflow, with its counts kept by the transitions that finish its
 *   steps. Every transition that advances a workflow locks this row first (FOR UPDATE), so
 *   sibling steps finishing at once, on any server, advance it one after another.
 * - `workflow_steps`: per step's job, its step id, needs, how many needs have not yet
 *   succeeded (`needs_left`: a success decrements its dependents', the last one releases
 *   them), its inputs once released, and the maxAttempts it was created with (a retry gives
 *   it that many attempts again).
 * - `workflow_edges`: need → dependent, by job id, read both ways: a finished step's
 *   dependents (the primary key) and a step's needs (`workflow_edges_by_dependent`).
 * - Retention deletes plain jobs only: its index of final jobs by finish time is rebuilt
 *   without steps, so deleteFinished never walks past the steps it may not delete.
 * - Listing by state reads one small partial index per resting state (migration 1): blocked
 *   and skipped get theirs. Only steps ever write them.
 *
 * The counters of migrations 4 and 6 (queue-counts.ts, owner-counts.ts) count every state their
 * triggers see, `blocked` and `skipped` included: nothing to change there.
 */
export const WORKFLOWS_SQL = `
  ALTER TABLE jobs ADD COLUMN workflow_id TEXT COLLATE "C";

  CREATE TABLE workflows (
    id               TEXT COLLATE "C" PRIMARY KEY,
    owner            TEXT COLLATE "C" NOT NULL,
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
    -- cancelWorkflow ended it: its final state is cancelled whatever the counts.
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    updated_at       BIGINT NOT NULL,
    UNIQUE (owner, idempotency_key)
  );
  -- Listing newest first (ids sort by creation time): all of them by the primary key, or by
  -- owner, or by state.
  CREATE INDEX workflows_by_owner ON workflows (owner, id);
  CREATE INDEX workflows_by_state ON workflows (state, id);

  CREATE TABLE workflow_steps (
    job_id       TEXT COLLATE "C" PRIMARY KEY,
    workflow_id  TEXT COLLATE "C" NOT NULL,
    step         TEXT COLLATE "C" NOT NULL,
    needs        TEXT[] NOT NULL,
    needs_left   INTEGER NOT NULL,
    -- The needs' results by step id (json: results may hold NUL characters); NULL until released.
    inputs       JSON,
    max_attempts INTEGER NOT NULL,
    UNIQUE (workflow_id, step)
  );
  -- A workflow's steps in creation order (job ids sort by creation time).
  CREATE INDEX workflow_steps_by_workflow ON workflow_steps (workflow_id, job_id);

  CREATE TABLE workflow_edges (
    need_id      TEXT COLLATE "C" NOT NULL,
    dependent_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (need_id, dependent_id)
  );
  CREATE INDEX workflow_edges_by_dependent ON workflow_edges (dependent_id, need_id);

  CREATE INDEX jobs_blocked ON jobs (id) WHERE state = 'blocked';
  CREATE INDEX jobs_skipped ON jobs (id) WHERE state = 'skipped';

  -- Built in the migrating transaction: on a large jobs table, writes wait for the build.
  CREATE INDEX jobs_finished_plain ON jobs (finished_at, id)
    WHERE state IN ('succeeded', 'failed', 'cancelled') AND workflow_id IS NULL;
  DROP INDEX jobs_finished;
`;
