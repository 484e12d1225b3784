import type Database from 'better-sqlite3';
import { SchemaTooNewError } from '@baton/core';

/**
 * Append-only, numbered migrations. Never edit one that has shipped: add the next number.
 * Each runs in a transaction with its version record.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
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
      record.run(m.version, m.name, now);
    })();
  }
}
