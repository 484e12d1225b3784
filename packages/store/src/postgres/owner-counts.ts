import { COUNT_SLOTS } from './queue-counts.js';

/**
 * Migration 6, second half: job counts and GPUs per owner, queue and state, so ownerUsage and
 * the quota check of `assign` cost O(the owner's queues), not O(their jobs). Part of a
 * shipped migration once released: never change it, add a migration.
 *
 * Kept exactly like `queue_counts` (./queue-counts.ts, read it first): statement-level AFTER
 * triggers on `jobs` add each statement's net change to the connection's slot
 * (`pg_backend_pid() % COUNT_SLOTS`), one upsert per job-moving statement whatever the batch,
 * nothing for a statement that moves no job between counts (a heartbeat). `gpus` is the sum
 * of the jobs' `resources.gpus` (absent in rows written before resources had GPUs: 0); a job's
 * resources never change, so a net change of zero jobs is a net change of zero GPUs.
 *
 * Deadlocks: each upsert takes its rows in (owner, queue, state) order, and triggers on one
 * event fire in name order, so every statement takes its `queue_counts` rows (`jobs_counted_*`)
 * before its `owner_counts` rows (`jobs_owners_counted_*`): every transaction takes counter
 * rows in one global order, at its one job-moving statement's end, after its job locks.
 *
 * Initialised from the rows in the migrating transaction, after the triggers exist (CREATE
 * TRIGGER holds writes to `jobs` off until the commit, so nothing is missed or counted twice).
 */

/** A job's GPUs as its stored resources hold them. */
const JOB_GPUS = `COALESCE((resources->>'gpus')::int, 0)`;

/** Adds the net change of `delta` (rows of owner, queue, state, d, g) to the connection's slot. */
const addCounts = (delta: string): string => `
  INSERT INTO owner_counts AS c (owner, queue, state, slot, n, gpus)
  SELECT owner, queue, state, pg_backend_pid() % ${COUNT_SLOTS}, sum(d), sum(g) FROM (${delta}) delta
  GROUP BY owner, queue, state HAVING sum(d) <> 0 OR sum(g) <> 0
  ORDER BY owner, queue, state
  ON CONFLICT (owner, queue, state, slot) DO UPDATE SET n = c.n + excluded.n, gpus = c.gpus + excluded.gpus;`;

const rows = (table: string, sign: string): string =>
  `SELECT owner, queue, state, ${sign}1 AS d, ${sign}${JOB_GPUS} AS g FROM ${table}`;

export const OWNER_COUNTS_SQL = `
  CREATE TABLE owner_counts (
    owner TEXT COLLATE "C" NOT NULL,
    queue TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    slot  SMALLINT NOT NULL,
    n     BIGINT NOT NULL,
    gpus  BIGINT NOT NULL,
    PRIMARY KEY (owner, queue, state, slot)
  );

  CREATE FUNCTION jobs_owners_count_inserted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts(rows('inserted_jobs', ''))}
    RETURN NULL;
  END $$;
  CREATE FUNCTION jobs_owners_count_updated() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts(`${rows('old_jobs', '-')} UNION ALL ${rows('new_jobs', '')}`)}
    RETURN NULL;
  END $$;
  CREATE FUNCTION jobs_owners_count_deleted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts(rows('deleted_jobs', '-'))}
    RETURN NULL;
  END $$;

  CREATE TRIGGER jobs_owners_counted_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS inserted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_owners_count_inserted();
  CREATE TRIGGER jobs_owners_counted_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_owners_count_updated();
  CREATE TRIGGER jobs_owners_counted_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS deleted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_owners_count_deleted();
  -- Nothing in Baton truncates jobs; an operator who does empties the counts with them.
  CREATE FUNCTION jobs_owners_count_truncated() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN
    DELETE FROM owner_counts;
    RETURN NULL;
  END $$;
  CREATE TRIGGER jobs_owners_counted_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_owners_count_truncated();

  INSERT INTO owner_counts (owner, queue, state, slot, n, gpus)
  SELECT owner, queue, state, 0, count(*), sum(${JOB_GPUS}) FROM jobs GROUP BY owner, queue, state;
`;
