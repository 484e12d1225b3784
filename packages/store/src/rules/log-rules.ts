import type { LogChunk } from '@baton/core';
import { ValidationError } from '@baton/core';

/** Chunks one `getLogs` call returns when the caller gives no limit. */
export const DEFAULT_LOG_PAGE = 1000;
/** The most chunks one `getLogs` call returns; a larger limit is clamped to it. */
export const MAX_LOG_PAGE = 10_000;

/** getLogs' `limit`, checked and clamped (see the contract). */
export function logPageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LOG_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError(`limit must be a positive integer of chunks, not ${limit}`);
  }
  return Math.min(limit, MAX_LOG_PAGE);
}

/**
 * Job output tails, the part every backend shares: which chunks of a batch a job keeps.
 */

/** One job's chunks of a batch that its tail keeps, and what the stored ones may keep beside them. */
export interface KeptBatch {
  chunks: { chunk: LogChunk; data: string; bytes: number }[];
  /** Bytes of the job's stored output the backend may keep: 0 drops it all. */
  budget: number;
}

/**
 * The batch's newest chunks that fit in the tail; older ones would be dropped at once, so they
 * are never sent. The newest chunk alone may be too big: it keeps its end. Once the batch lost
 * a chunk (or the start of one), everything stored goes too: the tail is never holed.
 */
export function keptBatch(chunks: readonly LogChunk[], tailBytes: number): KeptBatch {
  const kept: KeptBatch['chunks'] = [];
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
  return { chunks: kept, budget: cut ? 0 : tailBytes - batchBytes };
}

/** The end of `text` that fits in `limit` UTF-8 bytes, starting on a whole character. */
function lastBytes(text: string, limit: number): string {
  const buf = Buffer.from(text, 'utf8');
  let start = Math.max(0, buf.length - limit);
  // Skip continuation bytes (10xxxxxx) of a character cut in two.
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}
