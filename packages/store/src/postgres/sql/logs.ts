import { statement } from './statement.js';

/** Job output: each job keeps the newest `logTailBytes` of its chunks (see ../logs.ts). */

/**
 * Locks the tail record of each job in the batch, creating it when the job has none, and
 * returns its last seq and kept bytes. DO UPDATE (to the same value) is what locks and
 * returns an existing row.
 */
export const lockTails = statement(
  'lock_log_tails',
  `
-- Params: $1 job ids (distinct)
INSERT INTO job_log_tails (job_id, last_seq, bytes)
SELECT job_id, 0, 0 FROM unnest($1::text[]) AS t(job_id) ORDER BY job_id
ON CONFLICT (job_id) DO UPDATE SET job_id = excluded.job_id
RETURNING job_id, last_seq, bytes`,
);

/** Chunk sizes of the jobs that must trim, oldest first; never reads their text. */
export const logSizes = statement(
  'log_sizes',
  `
-- Params: $1 job ids
SELECT job_id, seq, bytes FROM job_logs WHERE job_id = ANY($1::text[]) ORDER BY job_id, seq`,
);

/** Drops trimmed chunks, writes the batch and records the new tails, in one statement. */
export const writeLogs = statement(
  'write_logs',
  `
-- Params: $1 trimmed job ids, $2 drop through seq (pairwise); $3 job ids, $4 seqs, $5 attempts,
-- $6 streams, $7 bytes, $8 data (the chunks); $9 job ids, $10 last seqs, $11 kept bytes (the tails);
-- $12 now
WITH dropped AS (
  DELETE FROM job_logs l USING unnest($1::text[], $2::bigint[]) AS d(job_id, through)
  WHERE l.job_id = d.job_id AND l.seq <= d.through
),
written AS (
  INSERT INTO job_logs (job_id, seq, attempt, stream, bytes, at, data)
  SELECT job_id, seq, attempt, stream, bytes, $12::bigint, data
  FROM unnest($3::text[], $4::bigint[], $5::int[], $6::text[], $7::int[], $8::text[])
    AS c(job_id, seq, attempt, stream, bytes, data)
)
UPDATE job_log_tails t SET last_seq = n.last_seq, bytes = n.bytes
FROM unnest($9::text[], $10::bigint[], $11::bigint[]) AS n(job_id, last_seq, bytes)
WHERE t.job_id = n.job_id`,
);

export const getLogs = statement(
  'get_logs',
  `
-- Params: $1 job id, $2 after seq, $3 most chunks
SELECT seq, attempt, stream, data, at FROM job_logs WHERE job_id = $1::text AND seq > $2::bigint ORDER BY seq
LIMIT $3::int`,
);
