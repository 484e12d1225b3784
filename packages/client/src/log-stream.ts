import { BatonApiError } from './errors.js';
import { apiErrorOf } from './http.js';
import type { Transport } from './transport.js';
import type { LogChunkView } from './types.js';

/**
 * The chunks of a log follow (`?follow=true&format=json`, one NDJSON line each) until the server
 * ends the stream. Aborting `signal` rejects with its reason; stopping early closes the connection.
 */
export async function* followStream(
  http: Transport,
  baseUrl: string,
  path: string,
  id: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<LogChunkView, void, undefined> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    signal?.throwIfAborted();
    let response: Response;
    try {
      response = await fetch(baseUrl + path, { headers: http.headers(false), signal: controller.signal });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new BatonApiError(0, 'UNREACHABLE', `cannot reach Baton at ${baseUrl}: ${http.why(err)}`);
    }
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      const retryAfter = response.headers.get('retry-after');
      throw apiErrorOf(baseUrl, { status: response.status, text, retryAfter }, 'GET', path);
    }
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    let buffer = '';
    for (;;) {
      let read: Awaited<ReturnType<typeof reader.read>>;
      try {
        read = await reader.read();
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw new BatonApiError(
          0,
          'UNREACHABLE',
          `lost the connection to Baton at ${baseUrl} while following job ${id}: ${http.why(err)}`,
        );
      }
      // A chunk may end inside a line, or inside a UTF-8 character: both wait for the next.
      buffer += read.done ? decoder.decode() : decoder.decode(read.value, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim()) yield parseChunk(baseUrl, line);
      }
      if (read.done) break;
    }
    if (buffer.trim()) yield parseChunk(baseUrl, buffer);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    controller.abort(); // closes the connection when the caller stopped early
  }
}

/** One NDJSON line of a follow: a chunk, or the error the server ended the follow with. */
function parseChunk(baseUrl: string, line: string): LogChunkView {
  let parsed: LogChunkView | { error?: { code?: string; message?: string; details?: unknown } };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    throw new BatonApiError(200, 'INVALID_RESPONSE', `${baseUrl} sent a log line that is not JSON`);
  }
  if ('error' in parsed && parsed.error) {
    const { code = 'INTERNAL', message = 'the server ended the follow', details = null } = parsed.error;
    throw new BatonApiError(code === 'STORE_UNAVAILABLE' ? 503 : 500, code, message, details);
  }
  return parsed as LogChunkView;
}
