import type { Cluster, Redis } from 'ioredis';
import type { LogChunk } from '@baton/core';
import type { StoredLogChunk } from '../contract.js';
import { keptBatch } from '../rules/log-rules.js';
import type { RedisKeys } from './keys.js';
import type { RetentionContext } from './retention.js';
import { callScript } from './scripts.js';
export { keptBatch } from '../rules/log-rules.js';
export type { KeptBatch } from '../rules/log-rules.js';

/**
 * Appends output with one append-logs script call per job (one pipeline), each keeping only the
 * newest `logTailBytes` of its job; returns the jobs that got output, for their events.
 */
export async function appendLogs(
  ctx: RetentionContext,
  chunks: readonly LogChunk[],
  logTailBytes: number,
  now: number,
): Promise<string[]> {
  const byJob = new Map<string, LogChunk[]>();
  for (const chunk of chunks) {
    const list = byJob.get(chunk.jobId);
    if (list) list.push(chunk);
    else byJob.set(chunk.jobId, [chunk]);
  }
  await ctx.perJob([...byJob], 'append-logs', ([jobId, list]) => {
    const { chunks: kept, budget } = keptBatch(list, logTailBytes);
    return {
      keys: [ctx.keys.logs(jobId), ctx.keys.logTail(jobId)],
      args: [budget, now, ...kept.flatMap((c) => [c.chunk.attempt, c.chunk.stream, c.bytes, c.data])],
    };
  });
  return [...byJob.keys()];
}

/**
 * A page of at most `limit` chunks after `afterSeq`, read by scripts/get-logs.lua, which
 * reads only the list entries of the page, not the whole kept output.
 */
export async function getLogs(
  client: Redis | Cluster,
  keys: RedisKeys,
  jobId: string,
  afterSeq: number,
  limit: number,
): Promise<StoredLogChunk[]> {
  const entries = (await callScript(client, 'get-logs', [keys.logs(jobId), keys.logTail(jobId)], [afterSeq, limit])) as
    | string[]
    | null;
  // The script finds the page by the seqs being consecutive; the filter guards that.
  return (entries ?? []).map((e) => chunkOfEntry(jobId, e)).filter((c) => c.seq > afterSeq);
}

/** A stored entry "<seq>:<bytes>:<attempt>:<at>:<stream>:<data>" (scripts/append-logs.lua). */
export function chunkOfEntry(jobId: string, entry: string): StoredLogChunk {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const end = entry.indexOf(':', start);
    parts.push(entry.slice(start, end));
    start = end + 1;
  }
  const [seq, , attempt, at, stream] = parts;
  return {
    jobId,
    seq: Number(seq),
    attempt: Number(attempt),
    stream: stream as StoredLogChunk['stream'],
    data: entry.slice(start),
    at: Number(at),
  };
}
