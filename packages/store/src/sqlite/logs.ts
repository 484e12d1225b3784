import type { LogChunk } from '@baton/core';
import type { StoredLogChunk } from '../contract.js';
import { keptBatch } from '../rules/log-rules.js';
import type { Statements } from './statements.js';

/**
 * Job output in SQLite: each job keeps the newest `tailBytes` bytes (UTF-8) of its chunks.
 * `job_log_tails` counts each job's kept bytes, so an append trims only when it must, and
 * trimming reads chunk sizes, never their text. Callers run these inside a transaction.
 */

/** Appends a batch; returns the ids of the jobs it touched, in first-seen order. */
export function appendLogs(sql: Statements, chunks: readonly LogChunk[], now: number, tailBytes: number): string[] {
  const byJob = new Map<string, LogChunk[]>();
  for (const chunk of chunks) {
    const list = byJob.get(chunk.jobId);
    if (list) list.push(chunk);
    else byJob.set(chunk.jobId, [chunk]);
  }
  for (const [jobId, list] of byJob) appendJobLogs(sql, jobId, list, now, tailBytes);
  return [...byJob.keys()];
}

function appendJobLogs(sql: Statements, jobId: string, chunks: LogChunk[], now: number, tailBytes: number): void {
  const { chunks: kept, budget } = keptBatch(chunks, tailBytes);
  const batchBytes = kept.reduce((n, k) => n + k.bytes, 0);

  const tail = sql.logTail.get(jobId) as { last_seq: number; bytes: number } | undefined;
  let seq = tail?.last_seq ?? 0;
  let stored = tail?.bytes ?? 0;
  // Drop the oldest stored chunks until the batch fits beside what remains (all of them when
  // the batch itself lost a chunk: the tail is never holed).
  if (stored > budget) {
    let dropThrough = seq;
    if (budget === 0) stored = 0;
    else {
      for (const row of sql.logSizes.iterate(jobId) as IterableIterator<{ seq: number; bytes: number }>) {
        if (stored <= budget) break;
        stored -= row.bytes;
        dropThrough = row.seq;
      }
    }
    sql.dropLogs.run(jobId, dropThrough);
  }
  for (const { chunk, data, bytes } of kept) {
    sql.insertLog.run(jobId, ++seq, chunk.attempt, chunk.stream, bytes, now, data);
  }
  sql.upsertLogTail.run(jobId, seq, stored + batchBytes);
}

/** A page of at most `limit` chunks after `afterSeq` (see the contract). */
export function getLogs(sql: Statements, jobId: string, afterSeq: number, limit: number): StoredLogChunk[] {
  const rows = sql.getLogs.all(jobId, afterSeq, limit) as Omit<StoredLogChunk, 'jobId'>[];
  return rows.map((r) => ({ jobId, seq: r.seq, attempt: r.attempt, stream: r.stream, data: r.data, at: r.at }));
}
