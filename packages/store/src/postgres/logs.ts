import type { LogChunk } from '@baton/core';

/**
 * Job output in PostgreSQL: each job keeps the newest `tailBytes` bytes (UTF-8) of its chunks.
 * `job_log_tails` counts each job's kept bytes, so an append trims only when it must, and
 * trimming reads chunk sizes, never their text. This module decides; the store runs the SQL.
 */

/** What one job's part of a batch writes. */
export interface JobLogPlan {
  jobId: string;
  /** The batch's chunks that survive, oldest first, with their (possibly cut) text and size. */
  kept: { chunk: LogChunk; data: string; bytes: number }[];
  batchBytes: number;
  /** Stored bytes the batch leaves room for: the stored tail is trimmed down to this. */
  budget: number;
}

/** Splits a batch by job, in first-seen order, keeping per job the newest chunks that fit. */
export function planLogs(chunks: readonly LogChunk[], tailBytes: number): JobLogPlan[] {
  const byJob = new Map<string, LogChunk[]>();
  for (const chunk of chunks) {
    const list = byJob.get(chunk.jobId);
    if (list) list.push(chunk);
    else byJob.set(chunk.jobId, [chunk]);
  }
  return [...byJob].map(([jobId, list]) => planJob(jobId, list, tailBytes));
}

function planJob(jobId: string, chunks: LogChunk[], tailBytes: number): JobLogPlan {
  // The batch's newest chunks that fit in the tail; older ones would be dropped at once, so
  // they are never written. The newest chunk alone may be too big: it keeps its end.
  const kept: JobLogPlan['kept'] = [];
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
  // The tail is never holed: once the batch lost a chunk (or the start of one), everything
  // stored goes too.
  return { jobId, kept, batchBytes, budget: cut ? 0 : tailBytes - batchBytes };
}

/**
 * The seq through which a job's stored chunks (sizes oldest first) must be dropped to fit in
 * `budget`, and the bytes that remain.
 */
export function trimThrough(
  sizes: readonly { seq: number; bytes: number }[],
  stored: number,
  budget: number,
  lastSeq: number,
): { through: number; remaining: number } {
  if (budget <= 0) return { through: lastSeq, remaining: 0 };
  let remaining = stored;
  let through = 0;
  for (const row of sizes) {
    if (remaining <= budget) break;
    remaining -= row.bytes;
    through = row.seq;
  }
  return { through, remaining };
}

/** The end of `text` that fits in `limit` UTF-8 bytes, starting on a whole character. */
function lastBytes(text: string, limit: number): string {
  const buf = Buffer.from(text, 'utf8');
  let start = Math.max(0, buf.length - limit);
  // Skip continuation bytes (10xxxxxx) of a character cut in two.
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}
