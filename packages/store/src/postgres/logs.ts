import type { LogChunk } from '@baton/core';
import { keptBatch } from '../rules/log-rules.js';

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
  const { chunks: kept, budget } = keptBatch(chunks, tailBytes);
  return { jobId, kept, batchBytes: kept.reduce((n, k) => n + k.bytes, 0), budget };
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
