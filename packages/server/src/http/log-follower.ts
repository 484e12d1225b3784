import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { BatonError, FINAL_STATES } from '@baton/core';
import type { Store, StoredLogChunk } from '@baton/store';

/** Limits of one log follower (`GET /api/jobs/:id/logs?follow=true`). */
export interface FollowLimits {
  /** How often a follower checks whether its job has finished, between output events. */
  checkMs: number;
  /** Chunks read from the store per call. */
  pageChunks: number;
  /**
   * Bytes the server may hold unsent for one follower. The follower waits for the socket to
   * drain before writing more, so only a single chunk larger than this can pass it; then the
   * follower is cut off.
   */
  maxBufferedBytes: number;
  /** How long a follower may stay unable to write (its client stopped reading) before it is cut off. */
  stallMs: number;
}

export const DEFAULT_FOLLOW_LIMITS: FollowLimits = {
  checkMs: 500,
  pageChunks: 1000,
  maxBufferedBytes: 1024 * 1024,
  stallMs: 30_000,
};

export interface FollowRequest {
  store: Store;
  jobId: string;
  after: number | undefined;
  format: 'text' | 'json';
  stream: 'stdout' | 'stderr' | undefined;
  raw: ServerResponse;
  log: FastifyBaseLogger;
  limits: FollowLimits;
}

/**
 * Streams a job's output to one follower until the job is final: the kept output after
 * `after` first, then new output on each `logs` event, read in pages. It respects
 * backpressure (waits for 'drain' before writing on), cuts off a follower that stays blocked
 * past `stallMs` or would buffer past `maxBufferedBytes` (destroying its socket), and ends the
 * response when the store fails (with an NDJSON error line in the JSON format). Never throws:
 * every store call's failure ends the follow, so nothing is left unhandled.
 */
export function follow(request: FollowRequest): void {
  const { store, jobId, format, stream, raw, log, limits } = request;
  let after = request.after;
  let done = false;
  let pumping: Promise<void> | null = null;
  let again = false;
  let checking = false;
  /** Resolves the current wait for 'drain' (or for the end), if any. */
  let wake: (() => void) | null = null;

  const release = () => {
    done = true;
    unsubscribe();
    clearInterval(check);
    wake?.();
  };
  const finish = () => {
    if (done) return;
    release();
    raw.end();
  };
  const cutOff = (why: string) => {
    if (done) return;
    log.warn({ jobId, why }, 'log follower cut off');
    release();
    raw.destroy();
  };
  const failed = (err: unknown) => {
    if (done) return;
    log.warn({ err }, 'log follower stopped: the store failed');
    if (format === 'json') {
      const code = err instanceof BatonError ? err.code : 'INTERNAL';
      const message =
        err instanceof BatonError && err.httpStatus < 500 ? err.message : 'the job store failed; follow again later';
      raw.write(`${JSON.stringify({ error: { code, message, details: null } })}\n`);
    }
    finish();
  };

  /** Waits until the socket takes more, or cuts the follower off after `stallMs`. */
  const drained = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => cutOff(`blocked for ${limits.stallMs} ms`), limits.stallMs);
      wake = () => {
        clearTimeout(timer);
        raw.off('drain', onDrain);
        wake = null;
        resolve();
      };
      const onDrain = () => wake?.();
      raw.on('drain', onDrain);
    });

  const write = async (chunk: StoredLogChunk): Promise<void> => {
    const ok = raw.write(format === 'json' ? `${JSON.stringify(chunk)}\n` : chunk.data);
    if (raw.writableLength > limits.maxBufferedBytes) return cutOff(`over ${limits.maxBufferedBytes} bytes unsent`);
    if (!ok) await drained();
  };

  /** Reads and writes everything stored after `after`, page by page. */
  const pump = async (): Promise<void> => {
    while (!done) {
      const page = await store.getLogs(jobId, after, limits.pageChunks);
      for (const c of page) {
        if (done) return;
        after = c.seq;
        if (!stream || c.stream === stream) await write(c);
      }
      if (page.length < limits.pageChunks) return;
    }
  };
  const schedulePump = () => {
    if (done) return;
    if (pumping) {
      again = true;
      return;
    }
    again = false;
    pumping = pump()
      .catch(failed)
      .finally(() => {
        pumping = null;
        if (again) schedulePump();
      });
  };

  /** Waits until no pump runs (one that is asked for again runs again first). */
  const settled = async () => {
    while (pumping) await pumping;
  };

  const unsubscribe = store.subscribe((event) => {
    if (event.type === 'logs' && event.jobId === jobId) schedulePump();
  });
  const check = setInterval(() => {
    if (checking || done) return;
    checking = true;
    store
      .getJob(jobId)
      .then(async (job) => {
        if (done || (job && !FINAL_STATES.has(job.state))) return;
        await settled();
        schedulePump(); // the last output may have landed just before the end
        await settled();
        finish();
      })
      .catch(failed)
      .finally(() => {
        checking = false;
      });
  }, limits.checkMs);
  raw.on('close', () => {
    if (!done) release();
  });
  schedulePump();
}
