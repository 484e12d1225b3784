/**
 * Migration 6: accounts, tokens and quotas, and each owner's job counts.
 *
 * Deleting a user takes their tokens and quota in the same transaction (accounts.ts), so no
 * foreign keys are needed (the store runs without `PRAGMA foreign_keys`).
 *
 * `owner_counts` is to owners what `queue_counts` (migration 4) is to queues: triggers keep, per
 * owner, queue and state, the number of jobs and the GPUs they ask for (`resources.gpus`,
 * absent from the compact resources text when 0), in the transaction of every change, so
 * `ownerUsage` and the quota check of `assign` read a few rows instead of counting jobs. The
 * update trigger fires only for statements that set state, queue or owner (never a heartbeat),
 * and only when one changed. Rows whose count dropped to 0 stay.
 */
export const ACCOUNTS_SQL = `
  CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    weight     REAL NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Only the SHA-256 of a token's secret. A rowid table: a user's tokens list oldest first,
  -- in creation order when created in the same millisecond.
  CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    user       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX tokens_by_user ON tokens (user);

  -- kind 'default' (user '') is the default quota, kind 'user' a user's own; null: no limit.
  CREATE TABLE quotas (
    kind                TEXT NOT NULL CHECK (kind IN ('default', 'user')),
    user                TEXT NOT NULL,
    max_running_jobs    INTEGER,
    max_gpus            INTEGER,
    max_queued_jobs     INTEGER,
    submit_rate_per_sec REAL,
    PRIMARY KEY (kind, user)
  ) WITHOUT ROWID;

  CREATE TABLE owner_counts (
    owner TEXT NOT NULL,
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    n     INTEGER NOT NULL,
    gpus  INTEGER NOT NULL,
    PRIMARY KEY (owner, queue, state)
  ) WITHOUT ROWID;
  INSERT INTO owner_counts (owner, queue, state, n, gpus)
    SELECT owner, queue, state, COUNT(*), SUM(COALESCE(json_extract(resources, '$.gpus'), 0))
    FROM jobs GROUP BY owner, queue, state;
  CREATE TRIGGER jobs_owner_counted_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO owner_counts (owner, queue, state, n, gpus)
      VALUES (NEW.owner, NEW.queue, NEW.state, 1, COALESCE(json_extract(NEW.resources, '$.gpus'), 0))
      ON CONFLICT (owner, queue, state) DO UPDATE SET n = n + 1, gpus = gpus + excluded.gpus;
  END;
  CREATE TRIGGER jobs_owner_counted_delete AFTER DELETE ON jobs BEGIN
    UPDATE owner_counts SET n = n - 1, gpus = gpus - COALESCE(json_extract(OLD.resources, '$.gpus'), 0)
      WHERE owner = OLD.owner AND queue = OLD.queue AND state = OLD.state;
  END;
  CREATE TRIGGER jobs_owner_counted_update AFTER UPDATE OF state, queue, owner ON jobs
    WHEN OLD.state IS NOT NEW.state OR OLD.queue IS NOT NEW.queue OR OLD.owner IS NOT NEW.owner BEGIN
    UPDATE owner_counts SET n = n - 1, gpus = gpus - COALESCE(json_extract(OLD.resources, '$.gpus'), 0)
      WHERE owner = OLD.owner AND queue = OLD.queue AND state = OLD.state;
    INSERT INTO owner_counts (owner, queue, state, n, gpus)
      VALUES (NEW.owner, NEW.queue, NEW.state, 1, COALESCE(json_extract(NEW.resources, '$.gpus'), 0))
      ON CONFLICT (owner, queue, state) DO UPDATE SET n = n + 1, gpus = gpus + excluded.gpus;
  END;
`;
