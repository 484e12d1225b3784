/**
 * Migration 4: job counts per queue and state, so queueStats costs O(queues), not O(jobs).
 * Part of a shipped migration once released: never change it, add a migration.
 *
 * Statement-level AFTER triggers on `jobs` (the partitioned parent: they see the rows of every
 * partition through their transition tables) add each statement's net change per (queue, state)
 * to `queue_counts`, in the statement's own transaction, whichever statement made the change: one
 * upsert per statement, however many jobs it moved. A statement that moves no job between
 * counts (a heartbeat) writes nothing.
 *
 * Sharded counters. One row per (queue, state) would be a hot row: every transaction moving a
 * job of that queue would update it and hold its lock until commit, so concurrent transitions
 * (schedulers assigning, servers settling completions) would commit one at a time. Each
 * (queue, state) has up to COUNT_SLOTS rows instead, and a connection always writes the slot
 * of its backend pid: connections of a pool get different pids, so their counter writes rarely
 * wait for each other (two only meet when their pids agree modulo COUNT_SLOTS), and a slot
 * stays in one connection's cache. queueStats sums the slots. A slot's count may go negative
 * (a job enqueued through one connection, assigned through another); the sums are exact.
 *
 * Deadlocks: each upsert takes its counter rows in (queue, state) order, every transaction of
 * the store changes jobs in at most one statement, and the trigger runs at that statement's end
 * after its job locks; so two transactions never wait on each other's counters in a cycle.
 * (Since migration 8, a transaction that advances a workflow changes jobs in several
 * statements, so it can meet another on the counters of one slot in a cycle; PostgreSQL ends
 * one of them and the store runs it again: see deadlocks.ts.)
 *
 * The counters are initialised from the rows in the migrating transaction, after the triggers
 * exist: CREATE TRIGGER locks `jobs` against writes until the commit, so no change is missed or
 * counted twice. The functions keep the store's schema as their search_path, so a change made
 * by a session with another search_path (an operator's psql) is counted in the right table.
 */

/** Counter rows per (queue, state); a connection writes slot `pg_backend_pid() % COUNT_SLOTS`. */
export const COUNT_SLOTS = 16;

/** Adds the net change of `delta` (rows of queue, state, d) to the connection's counter slot. */
const addCounts = (delta: string): string => `
  INSERT INTO queue_counts AS c (queue, state, slot, n)
  SELECT queue, state, pg_backend_pid() % ${COUNT_SLOTS}, sum(d) FROM (${delta}) delta
  GROUP BY queue, state HAVING sum(d) <> 0
  ORDER BY queue, state
  ON CONFLICT (queue, state, slot) DO UPDATE SET n = c.n + excluded.n;`;

export const QUEUE_COUNTS_SQL = `
  CREATE TABLE queue_counts (
    queue TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    slot  SMALLINT NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (queue, state, slot)
  );

  CREATE FUNCTION jobs_count_inserted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts('SELECT queue, state, 1 AS d FROM inserted_jobs')}
    RETURN NULL;
  END $$;
  CREATE FUNCTION jobs_count_updated() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts('SELECT queue, state, -1 AS d FROM old_jobs UNION ALL SELECT queue, state, 1 FROM new_jobs')}
    RETURN NULL;
  END $$;
  CREATE FUNCTION jobs_count_deleted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts('SELECT queue, state, -1 AS d FROM deleted_jobs')}
    RETURN NULL;
  END $$;

  CREATE TRIGGER jobs_counted_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS inserted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_inserted();
  CREATE TRIGGER jobs_counted_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_updated();
  CREATE TRIGGER jobs_counted_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS deleted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_deleted();
  -- Nothing in Baton truncates jobs; an operator who does empties the counts with them.
  CREATE FUNCTION jobs_count_truncated() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN
    DELETE FROM queue_counts;
    RETURN NULL;
  END $$;
  CREATE TRIGGER jobs_counted_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_truncated();

  INSERT INTO queue_counts (queue, state, slot, n) SELECT queue, state, 0, count(*) FROM jobs GROUP BY queue, state;

  -- Each queue's longest wait by one probe per partition (see oldestQueued in sql/jobs.ts):
  -- queued jobs by the time they became runnable, which is never before they were created.
  CREATE INDEX jobs_queued_since ON jobs (queue, GREATEST(run_at, created_at)) WHERE state = 'queued';
`;
