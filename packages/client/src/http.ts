import { BatonApiError } from './errors.js';

/** Who a call is made as: a token (`Authorization: Bearer`), and the user it acts as. */
export interface Credentials {
  /** A Baton token (`baton_<id>_<secret>`, or a server's admin token). */
  token?: string | undefined;
  /** `X-Baton-User`: the owner an admin acts as (or, on an insecure server, the owner). */
  user?: string | undefined;
}

/**
 * Refuses a token that cannot go in a header, without saying it: `fetch` would refuse it
 * with a message that quotes the header's value, and that message would end up in an
 * error or a log.
 */
export function checkToken(token: string): void {
  if (token === '' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new RangeError(
      `the token must be printable ASCII without spaces (${token.length} characters given, not shown)`,
    );
  }
}

/** The headers of one call. */
export function requestHeaders(credentials: Credentials, json: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  if (json) headers['content-type'] = 'application/json';
  if (credentials.token !== undefined) headers.authorization = `Bearer ${credentials.token}`;
  if (credentials.user !== undefined) headers['x-baton-user'] = credentials.user;
  return headers;
}

/** `Retry-After` in whole seconds (the API sends seconds), or null when absent or a date. */
export function retryAfterSeconds(header: string | null): number | null {
  if (header === null || !/^\d+$/.test(header.trim())) return null;
  return Number(header.trim());
}

/** A JSON body, or `INVALID_RESPONSE` when the server answered something else. */
export function parseBody(baseUrl: string, status: number, text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    throw new BatonApiError(status, 'INVALID_RESPONSE', `${baseUrl} answered ${status} with non-JSON`);
  }
}

/**
 * The error an answer of status ≥ 400 carries (`{error: {code, message, details}}`), as a
 * `BatonApiError` with the `Retry-After` it came with. Built from the answer alone: the
 * request's headers (its token) are never part of it.
 */
export function apiErrorOf(
  baseUrl: string,
  answer: { status: number; text: string; retryAfter: string | null },
  method: string,
  path: string,
): BatonApiError {
  const parsed = parseBody(baseUrl, answer.status, answer.text);
  const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
  return new BatonApiError(
    answer.status,
    error?.code ?? 'HTTP_ERROR',
    error?.message ?? `${method} ${path.split('?')[0]} answered ${answer.status}`,
    error?.details ?? null,
    retryAfterSeconds(answer.retryAfter),
  );
}
