import type { LogChunk } from '@baton/core';
import type { StoredLogChunk } from '../contract.js';
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
  // The batch's newest chunks that fit in the tail; older ones would be dropped at once, so
  // they are never written. The newest chunk alone may be too big: it keeps its end.
  const kept: { chunk: LogChunk; data: string; bytes: number }[] = [];
  let batchBytes = 0;
  let cut = false;
  for (let i = chunks.length - 1; i >= 0; i--) {
    const chunk = chunks[i]!;
    const bytes = Buffer.byteLength(chunk.data, 'utf8');
    if (batchBytes + bytes <= tailBytes) {
      kept.push({ chunk, data: chunk.data, bytes });
      batchBytes += bytes;
      continue;
    }
    if (kept.length === 0) {
      const data = lastBytes(chunk.data, tailBytes);
      const size = Buffer.byteLength(data, 'utf8');
      kept.push({ chunk, data, bytes: size });
      batchBytes = size;
    }
    cut = true;
    break;
  }
  kept.reverse();

  const tail = sql.logTail.get(jobId) as { last_seq: number; bytes: number } | undefined;
  let seq = tail?.last_seq ?? 0;
  let stored = tail?.bytes ?? 0;
  // Drop the oldest stored chunks until the batch fits beside what remains. The tail is never
  // holed: once the batch lost a chunk (or the start of one), everything stored goes too.
  const budget = cut ? 0 : tailBytes - batchBytes;
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

export function getLogs(sql: Statements, jobId: string, afterSeq = 0): StoredLogChunk[] {
  const rows = sql.getLogs.all(jobId, afterSeq) as Omit<StoredLogChunk, 'jobId'>[];
  return rows.map((r) => ({ jobId, seq: r.seq, attempt: r.attempt, stream: r.stream, data: r.data, at: r.at }));
}

/** The end of `text` that fits in `limit` UTF-8 bytes, starting on a whole character. */
function lastBytes(text: string, limit: number): string {
  const buf = Buffer.from(text, 'utf8');
  let start = Math.max(0, buf.length - limit);
  // Skip continuation bytes (10xxxxxx) of a character cut in two.
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}
