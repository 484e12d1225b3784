export { keptBatch } from '../log-tail.js';
export type { KeptBatch } from '../log-tail.js';
import type { StoredLogChunk } from '../contract.js';

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
