import type Database from 'better-sqlite3';
import { SchemaTooNewError } from '@baton/core';
import { ROUTES_FROM_BEFORE_MS } from '../rules/route-rules.js';
import { ACCOUNTS_SQL } from './accounts-schema.js';
import { COORDINATION_SQL } from './coordination.js';
import { ONE_COUNT_SQL } from './count-schema.js';
import { FAIR_SHARE_SQL } from './fair-share-schema.js';
import { RUNTIME_SAMPLES_SQL } from './runtimes.js';
import { WORKFLOWS_SQL } from './workflow-schema.js';

/** A schema change, then (optionally) a data change that needs the store's clock. */
interface Migration {
  version: number;
  name: string;
  sql: string;
  data?: (db: Database.Database, now: number) => void;
}

/**
 * Append-only, numbered migrations. Never edit one that has shipped: add the next number.
 * Each runs in a transaction with its version record.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, attempts, task routes',
    sql: `
      CREATE TABLE jobs (
        id               TEXT PRIMARY KEY,
        queue            TEXT NOT NULL,
        task             TEXT NOT NULL,
        owner            TEXT NOT NULL,
        payload          TEXT NOT NULL,
        state            TEXT NOT NULL,
        priority         INTEGER NOT NULL, -- class rank: 0 high, 1 normal, 2 low
        priority_level   INTEGER NOT NULL,
        resources        TEXT NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        max_attempts     INTEGER NOT NULL,
        backoff_ms       INTEGER NOT NULL,
        timeout_ms       INTEGER,
        run_at           INTEGER NOT NULL,
        idempotency_key  TEXT,
        progress         REAL,
        result           TEXT,
        error            TEXT,
        agent_id         TEXT,
        lease_token      TEXT,
        lease_expires_at INTEGER,
        assigned_at      INTEGER,
        created_at       INTEGER NOT NULL,
        started_at       INTEGER,
        finished_at      INTEGER,
        updated_at       INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX jobs_queued ON jobs (queue, priority, priority_level DESC, id) WHERE state = 'queued';
      CREATE INDEX jobs_delayed ON jobs (run_at) WHERE state = 'delayed';
      CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE state IN ('assigned', 'running');
      -- Listing by state, newest first: one small partial index per state where jobs rest, so a
      -- transition touches at most two of them; the short-lived assigned and running states
      -- list through jobs_leased.
      CREATE INDEX jobs_delayed_by_id ON jobs (id) WHERE state = 'delayed';
      CREATE INDEX jobs_queued_by_id ON jobs (id) WHERE state = 'queued';
      CREATE INDEX jobs_succeeded ON jobs (id) WHERE state = 'succeeded';
      CREATE INDEX jobs_failed ON jobs (id) WHERE state = 'failed';
      CREATE INDEX jobs_cancelled ON jobs (id) WHERE state = 'cancelled';
      CREATE INDEX jobs_queue ON jobs (queue, id);

      -- Attempts that ended without ending their job; the latest attempt lives on the job row.
      CREATE TABLE job_attempts (
        job_id      TEXT NOT NULL,
        attempt     INTEGER NOT NULL,
        agent_id    TEXT NOT NULL,
        lease_token TEXT NOT NULL,
        assigned_at INTEGER NOT NULL,
        started_at  INTEGER,
        finished_at INTEGER,
        outcome     TEXT NOT NULL,
        error       TEXT,
        PRIMARY KEY (job_id, attempt)
      ) WITHOUT ROWID;

      CREATE TABLE task_routes (
        task          TEXT NOT NULL,
        queue         TEXT NOT NULL,
        registered_at INTEGER NOT NULL,
        PRIMARY KEY (task, queue)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'resources, constraints, GPUs, job logs',
    sql: `
      -- Rows from before keep their resources text ({"slots":N}); rows.ts fills the new fields.
      ALTER TABLE jobs ADD COLUMN constraints TEXT NOT NULL DEFAULT '{"tags":[]}';
      -- GPU device indices of the current (or last) assignment, a JSON array.
      ALTER TABLE jobs ADD COLUMN gpus TEXT NOT NULL DEFAULT '[]';
      -- The agent whose lease on the job last expired: placement prefers another one.
      ALTER TABLE jobs ADD COLUMN avoid_agent_id TEXT;

      -- The kept tail of each job's output. bytes (UTF-8 length of data) is stored before data
      -- so trimming reads sizes without touching the text's overflow pages.
      CREATE TABLE job_logs (
        job_id  TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        stream  TEXT NOT NULL,
        bytes   INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        data    TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
      ) WITHOUT ROWID;
      -- One row per job with output: the last seq handed out and the bytes kept, so an append
      -- knows whether to trim without summing the tail.
      CREATE TABLE job_log_tails (
        job_id   TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        bytes    INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'coordination: schedulers, shard leases, agent reports',
    sql: COORDINATION_SQL,
  },
  {
    version: 4,
    name: 'job counts per queue and state, kept by triggers; queued jobs by wait',
    sql: `
      -- queueStats reads these instead of counting every job. Triggers keep them in the
      -- transaction of every change to a job's state or queue, whichever statement makes it.
      -- A count that drops to 0 stays as a row (queueStats skips it): one per queue and state.
      CREATE TABLE queue_counts (
        queue TEXT NOT NULL,
        state TEXT NOT NULL,
        n     INTEGER NOT NULL,
        PRIMARY KEY (queue, state)
      ) WITHOUT ROWID;
      INSERT INTO queue_counts (queue, state, n) SELECT queue, state, COUNT(*) FROM jobs GROUP BY queue, state;
      CREATE TRIGGER jobs_counted_insert AFTER INSERT ON jobs BEGIN
        INSERT INTO queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
          ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER jobs_counted_delete AFTER DELETE ON jobs BEGIN
        UPDATE queue_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
      END;
      -- Fires only for statements that set state or queue (never a heartbeat), and only when it changed.
      CREATE TRIGGER jobs_counted_update AFTER UPDATE OF state, queue ON jobs
        WHEN OLD.state IS NOT NEW.state OR OLD.queue IS NOT NEW.queue BEGIN
        UPDATE queue_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
        INSERT INTO queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
          ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
      END;
      -- Each queue's longest wait by one probe (see oldestQueued in statements.ts): queued jobs
      -- by the time they became runnable, which is never before they were created.
      CREATE INDEX jobs_queued_since ON jobs (queue, MAX(run_at, created_at)) WHERE state = 'queued';
    `,
  },
  {
    version: 5,
    name: 'task routes expire',
    sql: 'ALTER TABLE task_routes ADD COLUMN expires_at INTEGER',
    // Routes registered before had no expiry. Kept forever, those of agents that left before
    // the upgrade would never go; an hour gives the live agents (which re-register every few
    // minutes, with a ttl) time to renew theirs, and the others lapse.
    data: (db, now) => {
      db.prepare('UPDATE task_routes SET expires_at = ? WHERE expires_at IS NULL').run(now + ROUTES_FROM_BEFORE_MS);
    },
  },
  {
    version: 6,
    name: 'users, tokens, quotas; job counts and GPUs per owner, kept by triggers',
    sql: ACCOUNTS_SQL,
  },
  {
    version: 7,
    name: 'fair share: units per owner count, decayed usage per owner; queued jobs by owner; jobs by owner',
    sql: FAIR_SHARE_SQL,
  },
  {
    version: 8,
    name: 'owner counts of new jobs are added by enqueue, once per owner, queue and state of a batch',
    // A trigger per inserted row cost about a tenth of enqueue's speed; enqueue adds the batch's
    // counts itself, in the same transaction (jobs.ts), and enqueue is the only insert.
    sql: 'DROP TRIGGER jobs_owner_counted_insert;',
  },
  {
    version: 9,
    name: 'queue counts are sums of the owner counts; assign counts its jobs per batch; plain resources are not parsed',
    sql: ONE_COUNT_SQL,
  },
  {
    version: 10,
    name: 'workflows: steps are jobs with a workflow; workflows, steps and their edges',
    sql: WORKFLOWS_SQL,
  },
  {
    version: 11,
    name: 'runtime samples: each runtime class keeps its newest runtimes, for learned estimates',
    sql: RUNTIME_SAMPLES_SQL,
  },
];

export function migrate(db: Database.Database, now: number): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (current > latest) throw new SchemaTooNewError(current, latest);
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      m.data?.(db, now);
      record.run(m.version, m.name, now);
    })();
  }
}
