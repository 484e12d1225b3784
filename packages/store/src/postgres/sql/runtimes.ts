import { statement } from './statement.js';

/** Runtime history (see ../runtimes.ts): each class's newest runtimes in runtime_samples (migration 9). */

/**
 * Prepends each class's new runtimes (newest first) to what it keeps and cuts the result to the
 * cap, in one upsert: an existing row is rewritten under its row lock, so concurrent batches
 * from many servers each see the other's samples. Rows are written in key order, so two
 * batches never wait on each other in a cycle. Each class's new runtimes come as a JSON array
 * (arrays of arrays must be rectangular in PostgreSQL).
 */
export const recordRuntimes = statement(
  'record_runtimes',
  `
-- Params: $1 keys (distinct), $2 each key's new runtimes as a JSON array of whole ms, newest first, $3 now, $4 cap
INSERT INTO runtime_samples AS r (key, samples, updated_at)
SELECT e.key,
  ARRAY(SELECT x.v::bigint FROM jsonb_array_elements_text(e.samples::jsonb) WITH ORDINALITY AS x(v, o) ORDER BY x.o),
  $3::bigint
FROM unnest($1::text[], $2::text[]) AS e(key, samples) ORDER BY e.key
ON CONFLICT (key) DO UPDATE SET
  samples = (excluded.samples || r.samples)[1:$4::int],
  updated_at = excluded.updated_at`,
);

/** The kept runtimes of the classes named, newest first. */
export const runtimeSamples = statement(
  'runtime_samples',
  `
-- Params: $1 keys (distinct)
SELECT key, samples FROM runtime_samples WHERE key = ANY($1::text[])`,
);

/** A page of classes by key, after $1 (null: from the first). */
export const runtimeClasses = statement(
  'runtime_classes',
  `
-- Params: $1 after (or null), $2 limit
SELECT key FROM runtime_samples WHERE $1::text IS NULL OR key > $1::text ORDER BY key LIMIT $2::int`,
);

/** Migration 9: one row per class, its runtimes newest first. Keys compare bytewise ("C"), as the other backends order them. */
export const RUNTIME_SAMPLES_SQL = `
  CREATE TABLE runtime_samples (
    key        TEXT COLLATE "C" PRIMARY KEY,
    samples    BIGINT[] NOT NULL,
    updated_at BIGINT NOT NULL
  );
`;
