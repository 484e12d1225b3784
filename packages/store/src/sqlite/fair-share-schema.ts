/** What one job counts for fair share, from its resources text: its GPUs when it has any, else its slots. */
function unitsOf(row: 'NEW' | 'OLD' | 'jobs'): string {
  const r = row === 'jobs' ? 'resources' : `${row}.resources`;
  return `CASE WHEN COALESCE(json_extract(${r}, '$.gpus'), 0) > 0 THEN json_extract(${r}, '$.gpus')
    ELSE COALESCE(json_extract(${r}, '$.slots'), 1) END`;
}

const gpusOf = (row: 'NEW' | 'OLD' | 'jobs'): string =>
  `COALESCE(json_extract(${row === 'jobs' ? 'resources' : `${row}.resources`}, '$.gpus'), 0)`;

/**
 * Migration 7: what fair share and preemption keep.
 *
 * `owner_counts` (migration 6) gains `units`, the fair-share measure of the jobs counted (see
 * `OwnerLoad.leasedUnits`), so `ownerLoads` reads a few rows per owner. Its triggers are
 * replaced by ones that keep units too, and the counts are rebuilt from the jobs in the same
 * transaction (rows that had dropped to 0 go: nothing reads them).
 *
 * `owner_usage` holds each owner's decayed usage as of `at` (store clock); readers decay it to
 * their now, writers decay then add (fair-share.ts).
 *
 * `jobs_queued_by_owner` serves `pending` with `perOwner`: each owner's head in the scheduling
 * order of `jobs_queued` (priority rank, level highest first, id). `jobs_by_owner` serves a
 * user's own listing, newest first, which every user sees by default. `owner_counts_by_queue`
 * finds the owners with queued jobs in a queue without reading every owner's counts; its key
 * never changes when only a count does, so the triggers pay no more for it.
 */
export const FAIR_SHARE_SQL = `
  ALTER TABLE owner_counts ADD COLUMN units INTEGER NOT NULL DEFAULT 0;
  DROP TRIGGER jobs_owner_counted_insert;
  DROP TRIGGER jobs_owner_counted_delete;
  DROP TRIGGER jobs_owner_counted_update;
  DELETE FROM owner_counts;
  INSERT INTO owner_counts (owner, queue, state, n, gpus, units)
    SELECT owner, queue, state, COUNT(*), SUM(${gpusOf('jobs')}), SUM(${unitsOf('jobs')})
    FROM jobs GROUP BY owner, queue, state;
  CREATE TRIGGER jobs_owner_counted_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO owner_counts (owner, queue, state, n, gpus, units)
      VALUES (NEW.owner, NEW.queue, NEW.state, 1, ${gpusOf('NEW')}, ${unitsOf('NEW')})
      ON CONFLICT (owner, queue, state) DO UPDATE SET n = n + 1, gpus = gpus + excluded.gpus, units = units + excluded.units;
  END;
  CREATE TRIGGER jobs_owner_counted_delete AFTER DELETE ON jobs BEGIN
    UPDATE owner_counts SET n = n - 1, gpus = gpus - ${gpusOf('OLD')}, units = units - ${unitsOf('OLD')}
      WHERE owner = OLD.owner AND queue = OLD.queue AND state = OLD.state;
  END;
  CREATE TRIGGER jobs_owner_counted_update AFTER UPDATE OF state, queue, owner ON jobs
    WHEN OLD.state IS NOT NEW.state OR OLD.queue IS NOT NEW.queue OR OLD.owner IS NOT NEW.owner BEGIN
    UPDATE owner_counts SET n = n - 1, gpus = gpus - ${gpusOf('OLD')}, units = units - ${unitsOf('OLD')}
      WHERE owner = OLD.owner AND queue = OLD.queue AND state = OLD.state;
    INSERT INTO owner_counts (owner, queue, state, n, gpus, units)
      VALUES (NEW.owner, NEW.queue, NEW.state, 1, ${gpusOf('NEW')}, ${unitsOf('NEW')})
      ON CONFLICT (owner, queue, state) DO UPDATE SET n = n + 1, gpus = gpus + excluded.gpus, units = units + excluded.units;
  END;
  CREATE INDEX owner_counts_by_queue ON owner_counts (queue, state);

  CREATE TABLE owner_usage (
    owner TEXT PRIMARY KEY,
    units REAL NOT NULL,
    at    INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE INDEX jobs_queued_by_owner ON jobs (queue, owner, priority, priority_level DESC, id) WHERE state = 'queued';
  CREATE INDEX jobs_by_owner ON jobs (owner, id);
`;
