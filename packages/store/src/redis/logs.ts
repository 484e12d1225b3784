import type { Cluster, Redis } from 'ioredis';
import type { StoredLogChunk } from '../contract.js';
import type { RedisKeys } from './keys.js';
import { callScript } from './scripts.js';
export { keptBatch } from '../log-tail.js';
export type { KeptBatch } from '../log-tail.js';

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
