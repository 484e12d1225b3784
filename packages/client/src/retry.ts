import type { BatonApiError } from './errors.js';

/** How the client retries calls the server could not serve for now. */
export interface RetryOptions {
  /** Retries after the first try; 0 turns retrying off. Default 5. */
  retries?: number;
  /** First computed delay (doubling each retry, with jitter) when no `Retry-After` came. Default 250 ms. */
  baseDelayMs?: number;
  /** The longest single wait, `Retry-After` included (a larger one is cut to this). Default 10 000 ms. */
  maxDelayMs?: number;
  /**
   * Whether a connection that could not be made (no server listening, unknown host) is retried
   * too. Default true: a server restarting comes back. A command-line tool may prefer false,
   * to say at once that nothing answers.
   */
  retryRefused?: boolean;
  /**
   * Whether a job submitted without an `idempotencyKey` gets one (`sdk-<uuid>`), which makes
   * a retried submission safe: it creates the job once. Default true. Without it a submission
   * is retried only when the server surely did not take it (503, 429, no connection).
   */
  keySubmissions?: boolean;
  /** Called before each wait, e.g. to tell a user the store is down. */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  /** The failure being retried (`STORE_UNAVAILABLE`, `UNREACHABLE`, …). */
  error: BatonApiError;
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
  method: string;
  path: string;
}

export interface ResolvedRetry {
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  retryRefused: boolean;
  keySubmissions: boolean;
  onRetry: ((info: RetryInfo) => void) | undefined;
}

export function resolveRetry(options: RetryOptions | false | undefined): ResolvedRetry {
  const o = options === false ? { retries: 0 } : (options ?? {});
  const retries = o.retries ?? 5;
  const baseDelayMs = o.baseDelayMs ?? 250;
  const maxDelayMs = o.maxDelayMs ?? 10_000;
  for (const [name, value] of Object.entries({ retries, baseDelayMs, maxDelayMs })) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`retry.${name} must be an integer ≥ 0`);
  }
  return {
    retries,
    baseDelayMs,
    maxDelayMs,
    retryRefused: o.retryRefused ?? true,
    keySubmissions: o.keySubmissions ?? true,
    onRetry: o.onRetry,
  };
}

/** How one try of a call ended, for deciding whether to try again. */
export type Outcome =
  /** No connection could be made: nothing was sent. */
  | 'refused'
  /** The connection failed mid-call: the server may have done it. */
  | 'dropped'
  /** No answer within the request timeout. */
  | 'timeout'
  /** Anything else (a bad URL, a port fetch refuses to use, TLS): trying again cannot help. */
  | 'failed'
  /** An answer; `code` is the API's error code, when it sent one. */
  | { status: number; code?: string };

/**
 * Whether a call may be sent again after `outcome`:
 * - no connection could be made (nothing was sent), or the server answered 503 or 429 (it
 *   did not do the call, e.g. `STORE_UNAVAILABLE`): yes;
 * - the connection failed mid-call (the server may have done it): only an `idempotent` call.
 *   GETs are; a submit is, because the client gives every submitted job an idempotency key;
 *   a cancel is not (a second cancel of a job the first one cancelled answers `JOB_FINISHED`);
 * - a timeout: no. A server that does not answer in `requestTimeoutMs` is not asked again
 *   and again for as long;
 * - any other answer: no. 401 and 403 least of all (the same token will not do better, and
 *   each bad try counts towards the server's lockout), nor a 429 that waiting a few seconds
 *   cannot cure: `QUOTA_EXCEEDED` (the user's queued jobs must run first) and
 *   `TOO_MANY_FAILED_LOGINS` (trying again extends the lockout). They are thrown at once,
 *   with the server's `Retry-After` as `retryAfterS`.
 */
export function retryable(outcome: Outcome, idempotent: boolean, retryRefused = true): boolean {
  if (outcome === 'refused') return retryRefused;
  if (outcome === 'dropped') return idempotent;
  if (outcome === 'timeout' || outcome === 'failed') return false;
  if (outcome.status === 429) return outcome.code === undefined || !STANDING_429.has(outcome.code);
  return outcome.status === 503;
}

/** 429s that a retry within seconds does not cure (see {@link retryable}). */
const STANDING_429 = new Set(['QUOTA_EXCEEDED', 'TOO_MANY_FAILED_LOGINS']);

/** How a fetch that got no answer failed (see {@link Outcome}). */
export function outcomeOf(err: unknown, timedOut: boolean): Outcome {
  if (timedOut) return 'timeout';
  const cause = (err as { cause?: { code?: unknown; errors?: { code?: unknown }[] } } | null)?.cause;
  const codes = [cause?.code, ...(cause?.errors ?? []).map((e) => e.code)].filter((c) => typeof c === 'string');
  if (codes.some((c) => NOT_CONNECTED.has(c))) return 'refused';
  if (codes.some((c) => CUT_OFF.has(c))) return 'dropped';
  return 'failed';
}

const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** The connection was made and then lost (undici's UND_ERR_SOCKET: the other side closed it). */
const CUT_OFF = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * How long to wait before retry `retry` (1-based): the server's `Retry-After` when it sent one
 * (plus up to 20% so many clients spread out), else `baseDelayMs · 2^(retry-1)` with full
 * jitter; never more than `maxDelayMs`.
 */
export function retryDelayMs(r: ResolvedRetry, retry: number, retryAfter: string | null, random = Math.random): number {
  const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
  const delay =
    Number.isFinite(seconds) && seconds >= 0
      ? seconds * 1000 * (1 + 0.2 * random())
      : r.baseDelayMs * 2 ** (retry - 1) * random();
  return Math.min(r.maxDelayMs, Math.round(delay));
}
