import type { AgentLink, LogChunk } from '@baton/core';
import { MAX_LOG_CHUNK_CHARS } from '@baton/core';
import type { TaskLogger } from './task.js';

/** One attempt's output as the buffer accounts for it. */
export interface OutputSource {
  jobId: string;
  attempt: number;
  /** Bytes waiting to be sent (buffered, or sent and not yet answered). */
  bytes: number;
  /** Bytes dropped since the last marker. */
  dropped: number;
}

export interface OutputBufferOptions {
  link: AgentLink;
  logger: TaskLogger;
  flushMs: number;
  maxBytesPerJob: number;
  maxBytes: number;
}

interface Pending {
  chunk: LogChunk;
  bytes: number;
  source: OutputSource;
}

/**
 * Jobs' output on its way to the server, batched every `flushMs`. What waits is capped per job
 * and in all, counting what was sent but not yet answered, so a slow or lost link cannot make
 * the agent run out of memory: output past a cap is dropped, and the job's log then says
 * `[baton: N bytes of output dropped]` where it went missing.
 */
export class OutputBuffer {
  private pending: Pending[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly sources = new Set<OutputSource>();

  constructor(private readonly options: OutputBufferOptions) {}

  /** A new attempt's output; `close` it once its last output is flushed. */
  open(jobId: string, attempt: number): OutputSource {
    const source = { jobId, attempt, bytes: 0, dropped: 0 };
    this.sources.add(source);
    return source;
  }

  close(source: OutputSource): void {
    this.sources.delete(source);
  }

  /** Buffers output within the caps; what does not fit is dropped and counted. */
  record(source: OutputSource, stream: 'stdout' | 'stderr', data: string): void {
    if (typeof data !== 'string') data = String(data); // a JavaScript task may pass anything
    if (data.length === 0 || !this.sources.has(source)) return;
    const room = Math.min(this.options.maxBytesPerJob - source.bytes, this.options.maxBytes - this.bytes);
    let bytes = Buffer.byteLength(data);
    if (bytes > room) {
      const kept = room > 0 ? utf8Prefix(data, room) : '';
      const keptBytes = Buffer.byteLength(kept);
      source.dropped += bytes - keptBytes;
      data = kept;
      bytes = keptBytes;
    }
    if (bytes > 0) this.append(source, stream, data, bytes);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.options.flushMs);
    this.timer.unref();
  }

  /** Sends everything buffered; settles once the server answered (or the send failed). */
  async flush(): Promise<void> {
    for (const source of this.sources) {
      if (source.dropped === 0) continue;
      const data = `\n[baton: ${source.dropped} bytes of output dropped]\n`;
      this.pending.push({ chunk: { ...chunkOf(source), stream: 'stderr', data }, bytes: 0, source });
      source.dropped = 0;
    }
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    try {
      await this.options.link.logs(pending.map((p) => p.chunk));
    } catch (err) {
      this.options.logger.warn({ err, chunks: pending.length }, 'could not send job output; it is lost');
      for (const p of pending) if (this.sources.has(p.source)) p.source.dropped += p.bytes;
    } finally {
      for (const p of pending) {
        p.source.bytes -= p.bytes;
        this.bytes -= p.bytes;
      }
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * One chunk per write, as the task wrote it (readers see the same boundaries); a write over
   * the chunk limit is split, never past it.
   */
  private append(source: OutputSource, stream: 'stdout' | 'stderr', data: string, bytes: number): void {
    source.bytes += bytes;
    this.bytes += bytes;
    for (let start = 0; start < data.length; ) {
      let end = Math.min(data.length, start + MAX_LOG_CHUNK_CHARS);
      if (end < data.length && isHighSurrogate(data.charCodeAt(end - 1))) end--; // keep pairs whole
      const piece = data.slice(start, end);
      const pieceBytes = start === 0 && end === data.length ? bytes : Buffer.byteLength(piece);
      this.pending.push({ chunk: { ...chunkOf(source), stream, data: piece }, bytes: pieceBytes, source });
      start = end;
    }
  }
}

function chunkOf(source: OutputSource): Omit<LogChunk, 'stream' | 'data'> {
  return { jobId: source.jobId, attempt: source.attempt };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** The longest prefix of `text` that is at most `bytes` bytes in UTF-8, whole characters only. */
function utf8Prefix(text: string, bytes: number): string {
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.length <= bytes) return text;
  let end = bytes;
  while (end > 0 && ((encoded[end] ?? 0) & 0xc0) === 0x80) end--; // not inside a character
  return encoded.subarray(0, end).toString('utf8');
}
