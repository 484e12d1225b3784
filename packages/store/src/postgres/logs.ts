import type { LogChunk } from '@baton/core';
import type { StoredLogChunk } from '../contract.js';
import { keptBatch, logPageLimit } from '../rules/log-rules.js';
import type { PostgresContext } from './context.js';
import * as logsSql from './sql/logs.js';

/**
 * Job output in PostgreSQL: each job keeps the newest `tailBytes` bytes (UTF-8) of its chunks.
 * `job_log_tails` counts each job's kept bytes, so an append trims only when it must, and
 * trimming reads chunk sizes, never their text. One transaction per batch.
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

export async function appendLogs(ctx: PostgresContext, chunks: LogChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  const now = ctx.clock();
  const plans = planLogs(chunks, ctx.logTailBytes);
  await ctx.transaction(async (client) => {
    const tails = new Map(
      (
        await ctx.run<{ job_id: string; last_seq: number; bytes: number }>(
          logsSql.lockTails,
          [plans.map((p) => p.jobId)],
          client,
        )
      ).map((t) => [t.job_id, t]),
    );
    const trimming = plans.filter((p) => p.budget > 0 && (tails.get(p.jobId)?.bytes ?? 0) > p.budget);
    const sizes = new Map<string, { seq: number; bytes: number }[]>();
    if (trimming.length > 0) {
      const rows = await ctx.run<{ job_id: string; seq: number; bytes: number }>(
        logsSql.logSizes,
        [trimming.map((p) => p.jobId)],
        client,
      );
      for (const r of rows) {
        const list = sizes.get(r.job_id);
        if (list) list.push(r);
        else sizes.set(r.job_id, [r]);
      }
    }
    const drops: [string[], number[]] = [[], []];
    const written: [string[], number[], number[], string[], number[], string[]] = [[], [], [], [], [], []];
    const newTails: [string[], number[], number[]] = [[], [], []];
    for (const plan of plans) {
      let seq = tails.get(plan.jobId)?.last_seq ?? 0;
      let stored = tails.get(plan.jobId)?.bytes ?? 0;
      if (stored > plan.budget) {
        const { through, remaining } = trimThrough(sizes.get(plan.jobId) ?? [], stored, plan.budget, seq);
        drops[0].push(plan.jobId);
        drops[1].push(through);
        stored = remaining;
      }
      for (const { chunk, data, bytes } of plan.kept) {
        written[0].push(plan.jobId);
        written[1].push(++seq);
        written[2].push(chunk.attempt);
        written[3].push(chunk.stream);
        written[4].push(bytes);
        written[5].push(data);
      }
      newTails[0].push(plan.jobId);
      newTails[1].push(seq);
      newTails[2].push(stored + plan.batchBytes);
    }
    await ctx.run(logsSql.writeLogs, [...drops, ...written, ...newTails, now], client);
  });
  for (const plan of plans) ctx.relay.publish({ type: 'logs', jobId: plan.jobId });
}

export async function getLogs(
  ctx: PostgresContext,
  jobId: string,
  afterSeq?: number,
  limit?: number,
): Promise<StoredLogChunk[]> {
  const args = [jobId, afterSeq ?? 0, logPageLimit(limit)];
  const rows = await ctx.run<Omit<StoredLogChunk, 'jobId'>>(logsSql.getLogs, args);
  return rows.map((r) => ({ jobId, seq: r.seq, attempt: r.attempt, stream: r.stream, data: r.data, at: r.at }));
}
