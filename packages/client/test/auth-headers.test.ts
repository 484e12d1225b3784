import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BatonClient } from '@baton/client';
import { BatonApiError } from '../src/errors.js';
import { apiErrorOf, checkToken, requestHeaders, retryAfterSeconds } from '../src/http.js';
import { retryable } from '../src/retry.js';

const TOKEN = `baton_0123456789abcdef_${'s'.repeat(43)}`;

describe('request headers', () => {
  it('sends the token as a Bearer and the user as X-Baton-User, each only when given', () => {
    expect(requestHeaders({ token: TOKEN, user: 'ada' }, true)).toEqual({
      'content-type': 'application/json',
      authorization: `Bearer ${TOKEN}`,
      'x-baton-user': 'ada',
    });
    expect(requestHeaders({ token: TOKEN }, false)).toEqual({ authorization: `Bearer ${TOKEN}` });
    expect(requestHeaders({ user: 'ada' }, false)).toEqual({ 'x-baton-user': 'ada' });
    expect(requestHeaders({}, false)).toEqual({});
  });

  it('refuses a token that cannot be a header value, without quoting it', () => {
    for (const bad of ['', 'has space', 'line\nbreak', 'tab\there', 'naïve-token']) {
      expect(() => checkToken(bad)).toThrow(RangeError);
      try {
        checkToken(bad);
      } catch (err) {
        if (bad !== '') expect((err as Error).message).not.toContain(bad);
      }
    }
    expect(() => checkToken(TOKEN)).not.toThrow();
    expect(() => new BatonClient({ token: 'secret value\n' })).toThrow(/not shown/);
  });

  it('keeps the token out of what a client prints or serializes', () => {
    const client = new BatonClient({ baseUrl: 'http://127.0.0.1:1', token: TOKEN, user: 'ada' });
    expect(JSON.stringify(client)).not.toContain(TOKEN);
    expect(inspect(client, { showHidden: true, depth: 10 })).not.toContain(TOKEN);
    expect(Object.values(client).map(String).join(' ')).not.toContain(TOKEN);
  });
});

describe('errors of answers', () => {
  const answer = (status: number, body: unknown, retryAfter: string | null = null) =>
    apiErrorOf('http://b', { status, text: JSON.stringify(body), retryAfter }, 'POST', '/api/jobs?x=1');

  it("carries the server's code, message, details and Retry-After", () => {
    const e = answer(429, { error: { code: 'RATE_LIMITED', message: 'over 5/s', details: { limit: 5 } } }, '3');
    expect(e).toBeInstanceOf(BatonApiError);
    expect(e).toMatchObject({ status: 429, code: 'RATE_LIMITED', message: 'over 5/s', details: { limit: 5 } });
    expect(e.retryAfterS).toBe(3);
    expect(answer(401, { error: { code: 'UNAUTHORIZED', message: 'no' } }).retryAfterS).toBeNull();
  });

  it('names the call when the body has no error, and says non-JSON', () => {
    expect(answer(502, null).message).toBe('POST /api/jobs answered 502');
    expect(() => apiErrorOf('http://b', { status: 500, text: '<html>', retryAfter: null }, 'GET', '/')).toThrow(
      'http://b answered 500 with non-JSON',
    );
  });

  it('reads Retry-After seconds; a date or junk is no number', () => {
    expect(retryAfterSeconds('12')).toBe(12);
    expect(retryAfterSeconds(' 0 ')).toBe(0);
    expect(retryAfterSeconds('Wed, 21 Oct 2026 07:28:00 GMT')).toBeNull();
    expect(retryAfterSeconds(null)).toBeNull();
  });
});

describe('what is retried', () => {
  it('never a 401 or 403, whatever the call', () => {
    for (const code of ['UNAUTHORIZED', 'FORBIDDEN']) {
      expect(retryable({ status: code === 'UNAUTHORIZED' ? 401 : 403, code }, true)).toBe(false);
    }
  });

  it('a 429 RATE_LIMITED (or one without a code), not QUOTA_EXCEEDED or TOO_MANY_FAILED_LOGINS', () => {
    expect(retryable({ status: 429, code: 'RATE_LIMITED' }, false)).toBe(true);
    expect(retryable({ status: 429 }, false)).toBe(true);
    expect(retryable({ status: 429, code: 'QUOTA_EXCEEDED' }, true)).toBe(false);
    expect(retryable({ status: 429, code: 'TOO_MANY_FAILED_LOGINS' }, true)).toBe(false);
    expect(retryable({ status: 503, code: 'STORE_UNAVAILABLE' }, false)).toBe(true);
  });
});
