import { BatonApiError } from './errors.js';
import type { Credentials } from './http.js';
import { apiErrorOf, parseBody, requestHeaders } from './http.js';
import type { Outcome, ResolvedRetry } from './retry.js';
import { outcomeOf, retryDelayMs, retryable } from './retry.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * How a client's calls travel: one server, who they are made as, the request timeout and the
 * retry rules. The credentials are a private field: logging or serializing the client, or
 * this, cannot print the token.
 */
export class Transport {
  readonly #credentials: Credentials;

  constructor(
    readonly baseUrl: string,
    credentials: Credentials,
    readonly requestTimeoutMs: number,
    readonly retry: ResolvedRetry,
  ) {
    this.#credentials = credentials;
  }

  /**
   * One API call, retried (see retry.ts) while the server cannot serve it for now: 503 or 429
   * (honouring `Retry-After`; not `QUOTA_EXCEEDED` or `TOO_MANY_FAILED_LOGINS`), or no
   * connection; a call the server may have done already (the connection failed mid-call) only
   * when `idempotent` (GETs by default). Never 401 or 403.
   */
  async request<T>(
    method: Method,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    idempotent = method === 'GET',
  ): Promise<T> {
    for (let retry = 1; ; retry++) {
      const tried = await this.send(method, path, body, signal);
      if ('value' in tried) return tried.value as T;
      if (retry > this.retry.retries || !retryable(tried.outcome, idempotent, this.retry.retryRefused))
        throw tried.error;
      const delayMs = retryDelayMs(this.retry, retry, tried.retryAfter);
      this.retry.onRetry?.({ error: tried.error, retry, delayMs, method, path: path.split('?')[0]! });
      await sleep(delayMs, signal);
    }
  }

  /** One try of a call: its answer, or its error with how it ended. */
  private async send(
    method: Method,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<{ value: unknown } | { error: BatonApiError; outcome: Outcome; retryAfter: string | null }> {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers: this.headers(body !== undefined),
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await response.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const error = new BatonApiError(
        0,
        'UNREACHABLE',
        `cannot reach Baton at ${this.baseUrl}: ${this.why(err, timeout)}`,
      );
      return { error, outcome: outcomeOf(err, timeout.aborted), retryAfter: null };
    }
    if (!response.ok) {
      const retryAfter = response.headers.get('retry-after');
      const error = apiErrorOf(this.baseUrl, { status: response.status, text, retryAfter }, method, path);
      return { error, outcome: { status: response.status, code: error.code }, retryAfter };
    }
    return { value: parseBody(this.baseUrl, response.status, text) };
  }

  headers(json: boolean): Record<string, string> {
    return requestHeaders(this.#credentials, json);
  }

  /** Why a fetch got no answer, in words. */
  why(err: unknown, timeout?: AbortSignal): string {
    if (timeout?.aborted) return `no answer within ${this.requestTimeoutMs} ms`;
    if (!(err instanceof Error)) return String(err);
    return (err.cause as Error | undefined)?.message ?? err.message;
  }
}

export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
