/**
 * Migration 9: one count per job change, and a cheap one.
 *
 * `owner_counts` (migrations 6 to 8) counts every job by owner, queue and state; `queue_counts`
 * (migration 4) counted the same jobs by queue and state, so every transition on the hot path
 * (assign, complete) fired two triggers. The queue counts become a view of the owner counts'
 * sums, under the same name: only `queueStats` (`/api/queues`) reads them, a scan of a few rows
 * per owner and queue.
 *
 * Assign's queued → assigned, which every job makes on the hot path, is counted by the store's
 * code once per batch, owner and queue (owner-tally.ts), as enqueue counts new jobs (migration
 * 8): the update trigger skips it.
 *
 * The owner counts' triggers are rewritten so that a job without GPUs (most jobs) is counted
 * without parsing its resources: the compact resources text (rows.ts, `resourcesToJson`) names
 * `gpus` only when there are some, and a plain job's text is exactly `{"slots":1}`. Any other
 * text goes through json_extract as before, so the counts are the same for every row.
 */

/** The GPUs a job asks for, from a row's resources text. */
function gpusOf(row: 'NEW' | 'OLD'): string {
  const r = `${row}.resources`;
  return `(CASE WHEN instr(${r}, '"gpus"') = 0 THEN 0 ELSE COALESCE(json_extract(${r}, '$.gpus'), 0) END)`;
}

/** What a job counts for fair share: its GPUs when it has any, else its slots (as migration 7). */
function unitsOf(row: 'NEW' | 'OLD'): string {
  const r = `${row}.resources`;
  return `(CASE WHEN ${r} = '{"slots":1}' THEN 1
    WHEN instr(${r}, '"gpus"') = 0 OR COALESCE(json_extract(${r}, '$.gpus'), 0) <= 0 THEN COALESCE(json_extract(${r}, '$.slots'), 1)
    ELSE json_extract(${r}, '$.gpus') END)`;
}

/**
 * The transition the store's own code counts, a batch at a time (owner-tally.ts): assign's
 * queued → assigned, which every job makes on the hot path; only assignJob (statements.ts)
 * makes it, and it returns the row anyway. (complete's leased → succeeded stays with the
 * trigger: reading the row to count it in code measured dearer than the trigger.)
 */
const COUNTED_BY_CALLER = `OLD.state = 'queued' AND NEW.state = 'assigned' AND OLD.owner IS NEW.owner AND OLD.queue IS NEW.queue`;

export const ONE_COUNT_SQL = `
  DROP TRIGGER jobs_counted_insert;
  DROP TRIGGER jobs_counted_delete;
  DROP TRIGGER jobs_counted_update;
  DROP TABLE queue_counts;
  CREATE VIEW queue_counts AS SELECT queue, state, SUM(n) AS n FROM owner_counts GROUP BY queue, state;

  DROP TRIGGER jobs_owner_counted_delete;
  DROP TRIGGER jobs_owner_counted_update;
  CREATE TRIGGER jobs_owner_counted_delete AFTER DELETE ON jobs BEGIN
    UPDATE owner_counts SET n = n - 1, gpus = gpus - ${gpusOf('OLD')}, units = units - ${unitsOf('OLD')}
      WHERE owner = OLD.owner AND queue = OLD.queue AND state = OLD.state;
  END;
  CREATE TRIGGER jobs_owner_counted_update AFTER UPDATE OF state, queue, owner ON jobs
    WHEN (OLD.state IS NOT NEW.state OR OLD.queue IS NOT NEW.queue OR OLD.owner IS NOT NEW.owner)
      AND NOT (${COUNTED_BY_CALLER}) BEGIN
    UPDATE owner_counts SET n = n - 1, gpus = gpus - ${gpusOf('OLD')}, units = units - ${unitsOf('OLD')}
      WHERE owner = OLD.owner AND queue = OLD.queue AND state = OLD.state;
    INSERT INTO owner_counts (owner, queue, state, n, gpus, units)
      VALUES (NEW.owner, NEW.queue, NEW.state, 1, ${gpusOf('NEW')}, ${unitsOf('NEW')})
      ON CONFLICT (owner, queue, state) DO UPDATE SET n = n + 1, gpus = gpus + excluded.gpus, units = units + excluded.units;
  END;
`;
