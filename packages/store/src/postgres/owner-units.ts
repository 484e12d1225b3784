import { COUNT_SLOTS } from './queue-counts.js';

/**
 * Migration 7: what fair share keeps. Part of a shipped migration once released: never change
 * it, add a migration.
 *
 * - `owner_counts.units`: per owner, queue and state, the jobs' fair-share units (a job's GPUs
 *   when it has any, else its slots), so ownerLoads is a read of counters. Kept by the same
 *   statement-level triggers as `n` and `gpus` (./owner-counts.ts, read it first): the trigger
 *   functions are replaced by ones that add `units` too, with the same slot sharding and the
 *   same row order (owner, queue, state), so the lock ordering argument there still holds.
 * - `owner_usage`: each owner's decayed usage, as stored at `at` (store clock); readers decay
 *   it to their now (../rules/usage-decay.ts). One row per owner, written by addUsage's upsert.
 * - `jobs_queued_by_owner`: the per-owner pending read (sql/scheduling.ts, pendingPerOwner)
 *   takes each owner's first jobs of a queue by one index range each, in scheduling order,
 *   however long another owner's backlog. It is the one index the hot path pays for (enqueue
 *   and assign each write it, as they write jobs_queued); `owner_counts_queued` lists the
 *   owners with queued jobs in a queue without scanning every counter, and costs the hot path
 *   nothing: its columns never change once a counter row exists, so the triggers' updates
 *   stay HOT.
 *
 * Initialising `units` from the rows must not miss or double count a change committed while
 * the migration runs. Replacing a function (unlike CREATE TRIGGER in migration 6) does not lock
 * `jobs`, so the migration locks it against writes first (SHARE ROW EXCLUSIVE, what CREATE
 * TRIGGER takes): it waits for transactions writing jobs to end, holds off new ones until the
 * commit, and every statement after it reads all of them (READ COMMITTED: a fresh snapshot per
 * statement). The lock comes before owner_counts is altered, in the order writers take them.
 */

/** A job's fair-share units as its stored resources hold them (absent fields: 0 GPUs, 1 slot). */
const JOB_UNITS = `CASE WHEN COALESCE((resources->>'gpus')::int, 0) > 0 THEN (resources->>'gpus')::int
  ELSE COALESCE((resources->>'slots')::int, 1) END`;
const JOB_GPUS = `COALESCE((resources->>'gpus')::int, 0)`;

/** Adds the net change of `delta` (rows of owner, queue, state, d, g, u) to the connection's slot. */
const addCounts = (delta: string): string => `
  INSERT INTO owner_counts AS c (owner, queue, state, slot, n, gpus, units)
  SELECT owner, queue, state, pg_backend_pid() % ${COUNT_SLOTS}, sum(d), sum(g), sum(u) FROM (${delta}) delta
  GROUP BY owner, queue, state HAVING sum(d) <> 0 OR sum(g) <> 0 OR sum(u) <> 0
  ORDER BY owner, queue, state
  ON CONFLICT (owner, queue, state, slot) DO UPDATE
    SET n = c.n + excluded.n, gpus = c.gpus + excluded.gpus, units = c.units + excluded.units;`;

const rows = (table: string, sign: string): string =>
  `SELECT owner, queue, state, ${sign}1 AS d, ${sign}${JOB_GPUS} AS g, ${sign}(${JOB_UNITS}) AS u FROM ${table}`;

export const OWNER_UNITS_SQL = `
  LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;
  ALTER TABLE owner_counts ADD COLUMN units BIGINT NOT NULL DEFAULT 0;

  CREATE OR REPLACE FUNCTION jobs_owners_count_inserted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts(rows('inserted_jobs', ''))}
    RETURN NULL;
  END $$;
  CREATE OR REPLACE FUNCTION jobs_owners_count_updated() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts(`${rows('old_jobs', '-')} UNION ALL ${rows('new_jobs', '')}`)}
    RETURN NULL;
  END $$;
  CREATE OR REPLACE FUNCTION jobs_owners_count_deleted() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN${addCounts(rows('deleted_jobs', '-'))}
    RETURN NULL;
  END $$;

  -- The jobs' units go into slot 0 of their counters (created with no jobs where slot 0 had
  -- no row): only the sums over slots mean anything.
  INSERT INTO owner_counts AS c (owner, queue, state, slot, n, gpus, units)
  SELECT owner, queue, state, 0, 0, 0, sum(${JOB_UNITS}) FROM jobs GROUP BY owner, queue, state
  ORDER BY owner, queue, state
  ON CONFLICT (owner, queue, state, slot) DO UPDATE SET units = c.units + excluded.units;

  CREATE INDEX owner_counts_queued ON owner_counts (queue, owner) WHERE state = 'queued';

  CREATE TABLE owner_usage (
    owner TEXT COLLATE "C" PRIMARY KEY,
    units DOUBLE PRECISION NOT NULL,
    at    BIGINT NOT NULL
  );

  -- Scheduling order of each owner's queued jobs in a queue (jobs_queued, owner after queue).
  CREATE INDEX jobs_queued_by_owner ON jobs (queue, owner, priority, priority_level DESC, id) WHERE state = 'queued';
`;
