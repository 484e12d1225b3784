import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TIME_MS } from '@baton/core';
import type { Harness } from './harness.js';
import { ADMIN, startHarness } from './harness.js';

describe('API input validation: a clear 4xx and nothing stored', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ maxPayloadBytes: 2048, maxBulkBodyBytes: 256 * 1024 });
  });
  afterAll(() => h.close());

  const jobCount = async () => (await h.get('/api/jobs?limit=500')).body.jobs.length as number;

  async function expectRejected(
    body: unknown,
    status: number,
    code: string,
    messagePart: RegExp,
    headers?: Record<string, string>,
  ) {
    const before = await jobCount();
    const res = await h.post('/api/jobs', body, headers);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(messagePart);
    expect(await jobCount()).toBe(before);
    return res.body.error;
  }

  it('refuses malformed JSON', async () => {
    await expectRejected('{"task": "demo.sleep",', 400, 'INVALID_JSON', /not valid JSON/);
  });

  it('refuses an empty body and a non-JSON content type', async () => {
    await expectRejected('', 400, 'INVALID_JSON', /empty/);
    const res = await fetch(`${h.url}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...ADMIN },
      body: 'hi',
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as any).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a missing task and wrong types, naming the field', async () => {
    await expectRejected({ payload: {} }, 400, 'VALIDATION_FAILED', /task/);
    const err = await expectRejected({ task: 'demo.sleep', maxAttempts: '3' }, 400, 'VALIDATION_FAILED', /maxAttempts/);
    expect(err.details[0].path).toBe('maxAttempts');
    await expectRejected({ task: 'demo.sleep', priority: 'urgent' }, 400, 'VALIDATION_FAILED', /priority/);
  });

  it('refuses negative delays and attempts', async () => {
    await expectRejected({ task: 'demo.sleep', delayMs: -5 }, 400, 'VALIDATION_FAILED', /delayMs must not be negative/);
    await expectRejected(
      { task: 'demo.sleep', maxAttempts: 0 },
      400,
      'VALIDATION_FAILED',
      /maxAttempts must be at least 1/,
    );
    await expectRejected({ task: 'demo.sleep', backoffMs: -1 }, 400, 'VALIDATION_FAILED', /backoffMs/);
  });

  it('refuses unknown fields, and delayMs together with runAt', async () => {
    await expectRejected({ task: 'demo.sleep', priorty: 'high' }, 400, 'VALIDATION_FAILED', /priorty/);
    await expectRejected({ task: 'demo.sleep', delayMs: 10, runAt: Date.now() }, 400, 'VALIDATION_FAILED', /not both/);
  });

  it('refuses unknown tasks and queues, listing what exists', async () => {
    await expectRejected({ task: 'no.such.task' }, 400, 'UNKNOWN_TASK', /unknown task "no.such.task".*demo.sleep/);
    await expectRejected({ task: 'demo.sleep', queue: 'gpu' }, 400, 'UNKNOWN_QUEUE', /unknown queue "gpu".*default/);
    await expectRejected({ task: 'bad name!' }, 400, 'VALIDATION_FAILED', /task may hold only/);
  });

  it('refuses a payload over the limit with 413', async () => {
    await expectRejected(
      { task: 'demo.sleep', payload: { blob: 'x'.repeat(4000) } },
      413,
      'PAYLOAD_TOO_LARGE',
      /limit is 2048/,
    );
  });

  it('refuses a bad X-Baton-User', async () => {
    await expectRejected({ task: 'demo.sleep' }, 400, 'INVALID_USER', /X-Baton-User/, { 'x-baton-user': 'a b' });
  });

  it('bulk: one bad job rejects the whole request, naming its index', async () => {
    const before = await jobCount();
    const res = await h.post('/api/jobs/bulk', {
      jobs: [{ task: 'demo.sleep' }, { task: 'demo.sleep', maxAttempts: -1 }, { task: 'demo.sleep' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/jobs\.1\.maxAttempts/);
    const unknown = await h.post('/api/jobs/bulk', { jobs: [{ task: 'demo.sleep' }, { task: 'nope' }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('UNKNOWN_TASK');
    expect(unknown.body.error.message).toMatch(/^jobs\.1: /);
    expect(await jobCount()).toBe(before);
  });

  it('bulk: refuses empty and oversized batches', async () => {
    expect((await h.post('/api/jobs/bulk', { jobs: [] })).status).toBe(400);
    const tooMany = await h.post('/api/jobs/bulk', {
      jobs: Array.from({ length: 1001 }, () => ({ task: 'demo.sleep' })),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/at most 1000/);
    expect((await h.post('/api/jobs/bulk', [{ task: 'demo.sleep' }])).status).toBe(400);
  });

  it('refuses bad job ids, list queries and cursors', async () => {
    const badId = await h.get('/api/jobs/not-an-id');
    expect(badId.status).toBe(400);
    expect(badId.body.error.code).toBe('INVALID_JOB_ID');
    const missing = await h.get('/api/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('JOB_NOT_FOUND');
    expect((await h.get('/api/jobs?state=done')).status).toBe(400);
    expect((await h.get('/api/jobs?limit=0')).status).toBe(400);
    expect((await h.get('/api/jobs?limit=abc')).status).toBe(400);
    const cursor = await h.get('/api/jobs?cursor=garbage');
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.code).toBe('INVALID_CURSOR');
    const cancelMissing = await h.post('/api/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel');
    expect(cancelMissing.status).toBe(404);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await h.get('/api/nothing');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('ROUTE_NOT_FOUND');
  });

  /** JSON text of `depth` nested arrays (or objects) around a 1. */
  const nested = (depth: number, kind: 'array' | 'object' = 'array') =>
    kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const submission = (payloadJson: string) => `{"task":"demo.sleep","payload":${payloadJson}}`;

  it('takes a payload nested 64 levels, and refuses one nested 65 naming the limit', async () => {
    for (const kind of ['array', 'object'] as const) {
      const ok = await h.post('/api/jobs', submission(nested(64, kind)));
      expect(ok.status).toBe(201);
      await h.post(`/api/jobs/${ok.body.id}/cancel`);
      const err = await expectRejected(
        submission(nested(65, kind)),
        400,
        'PAYLOAD_TOO_DEEP',
        /^payload is nested deeper than 64 levels$/,
      );
      expect(err.details).toEqual({ path: 'payload', maxDepth: 64 });
    }
  });

  it('refuses payloads nested hundreds of levels deep, and deep bodies before parsing them', async () => {
    for (const depth of [100, 255, 256, 1_500]) {
      for (const kind of ['array', 'object'] as const) {
        await expectRejected(
          submission(nested(depth, kind)),
          400,
          'PAYLOAD_TOO_DEEP',
          /nested deeper than (64|256) levels/,
        );
      }
    }
    await expectRejected(
      `{"task":${nested(300)}}`,
      400,
      'PAYLOAD_TOO_DEEP',
      /^request body is nested deeper than 256 levels \(a job's payload may be nested at most 64\)$/,
    );
    // Brackets inside strings are text, not nesting.
    const brackets = await h.post('/api/jobs', { task: 'demo.sleep', payload: { s: '['.repeat(1000), t: '"\\[{' } });
    expect(brackets.status).toBe(201);
    await h.post(`/api/jobs/${brackets.body.id}/cancel`);
  });

  it('bulk: a payload nested too deep is refused naming its job, and nothing is stored', async () => {
    const before = await jobCount();
    const body = (payloadJson: string) =>
      `{"jobs":[{"task":"demo.sleep"},{"task":"demo.sleep","payload":${payloadJson}}]}`;
    const res = await h.post('/api/jobs/bulk', body(nested(65)));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_DEEP');
    expect(res.body.error.message).toBe('jobs.1: payload is nested deeper than 64 levels');
    expect(res.body.error.details.path).toBe('jobs.1.payload');
    for (const depth of [1_000, 20_000]) {
      const deep = await h.post('/api/jobs/bulk', body(nested(depth, 'object')));
      expect(deep.status).toBe(400);
      expect(deep.body.error.code).toBe('PAYLOAD_TOO_DEEP');
    }
    expect(await jobCount()).toBe(before);
  });

  it('refuses a body over the endpoint limit with 413, naming the limit', async () => {
    await expectRejected(
      { task: 'demo.sleep', payload: { blob: 'x'.repeat(70 * 1024) } },
      413,
      'PAYLOAD_TOO_LARGE',
      /limit of 67584 bytes/,
    );
    const before = await jobCount();
    const res = await h.post('/api/jobs/bulk', { jobs: [{ task: 'demo.sleep', payload: 'x'.repeat(300 * 1024) }] });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(res.body.error.message).toMatch(/limit of 262144 bytes/);
    expect(await jobCount()).toBe(before);
  });

  it('refuses a runAt no date can hold, as a number and as ISO 8601', async () => {
    for (const runAt of [2 ** 53 - 1, 8.64e15, 8.64e15 + 1, MAX_TIME_MS + 1]) {
      await expectRejected(
        { task: 'demo.sleep', runAt },
        400,
        'VALIDATION_FAILED',
        /runAt must be at most 253402300799999 \(9999-12-31T23:59:59\.999Z\)/,
      );
    }
    await expectRejected({ task: 'demo.sleep', runAt: -1 }, 400, 'VALIDATION_FAILED', /runAt must not be negative/);
    await expectRejected({ task: 'demo.sleep', runAt: 1.5 }, 400, 'VALIDATION_FAILED', /runAt must be/);
    await expectRejected(
      { task: 'demo.sleep', runAt: '9999-12-31T23:59:59-14:00' }, // year 10000 in UTC
      400,
      'VALIDATION_FAILED',
      /runAt must be no later than 9999-12-31T23:59:59\.999Z/,
    );
    const extended = await expectRejected(
      { task: 'demo.sleep', runAt: '+275760-09-13T00:00:00.001Z' },
      400,
      'VALIDATION_FAILED',
      /runAt must be an ISO 8601 date-time/,
    );
    expect(extended.message).not.toMatch(/no later than/);
  });

  it('takes the latest runAt and renders it as it was given', async () => {
    for (const runAt of [MAX_TIME_MS, '9999-12-31T23:59:59.999Z']) {
      const res = await h.post('/api/jobs', { task: 'demo.sleep', runAt });
      expect(res.status).toBe(201);
      expect(res.body.state).toBe('delayed');
      expect((await h.get(`/api/jobs/${res.body.id}`)).body.runAt).toBe('9999-12-31T23:59:59.999Z');
      expect((await h.get('/api/jobs?state=delayed')).status).toBe(200);
      const cancelled = await h.post(`/api/jobs/${res.body.id}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.state).toBe('cancelled');
    }
  });

  it('refuses control characters and unpaired surrogates in an idempotency key', async () => {
    for (const key of ['a\u0000b', '\u001b[31mred', 'tab\there', 'line\nbreak', 'del\u007f', 'c1\u0085', 'cr\r']) {
      await expectRejected(
        { task: 'demo.sleep', idempotencyKey: key },
        400,
        'VALIDATION_FAILED',
        /^idempotencyKey: idempotencyKey must not hold control characters$/,
      );
    }
    await expectRejected(
      { task: 'demo.sleep', idempotencyKey: 'half\ud800' },
      400,
      'VALIDATION_FAILED',
      /idempotencyKey must not hold unpaired surrogates/,
    );
    // Printable Unicode stays welcome.
    const ok = await h.post('/api/jobs', { task: 'demo.sleep', idempotencyKey: 'ключ-🔑 key:1/2' });
    expect(ok.status).toBe(201);
    await h.post(`/api/jobs/${ok.body.id}/cancel`);
  });

  it('refuses control characters in a cursor', async () => {
    for (const cursor of ['%1B%5B2J', 'abc%00', '%C2%85']) {
      const res = await h.get(`/api/jobs?cursor=${cursor}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.message).toBe('cursor: cursor must not hold control characters');
    }
  });

  it('never echoes control characters from a job id, an unknown field or a header into a message', async () => {
    const controls = /[\p{Cc}\p{Cs}]/u;
    for (const path of ['/api/jobs/%1B%5B31mred', '/api/jobs/%00', '/api/jobs/%1B%5D0;title%07/cancel']) {
      const res = path.endsWith('/cancel') ? await h.post(path) : await h.get(path);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_JOB_ID');
      expect(res.body.error.message).not.toMatch(controls);
      expect(res.body.error.message).toMatch(/is not a job id/);
    }
    const logs = await h.get('/api/jobs/%1B%5B2J/logs');
    expect(logs.status).toBe(400);
    expect(logs.body.error.message).not.toMatch(controls);
    const longId = await h.get(`/api/jobs/${'x'.repeat(100)}`);
    expect(longId.status).toBe(400);
    expect(longId.body.error.message.length).toBeLessThan(200);

    const field = await expectRejected(
      { task: 'demo.sleep', '\u001b[2Jbad': 1 },
      400,
      'VALIDATION_FAILED',
      /unknown field "\\u001b\[2Jbad"/,
    );
    expect(field.message).not.toMatch(controls);

    for (const user of ['a\tb', 'x\u0085y', '\u00ff']) {
      await expectRejected({ task: 'demo.sleep' }, 400, 'INVALID_USER', /X-Baton-User/, { 'x-baton-user': user });
    }
  });
});

describe('API: payloads thousands of levels deep, on the default limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
  });
  afterAll(() => h.close());

  const deepArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('answers 400 naming the limit, never 500, for single and bulk submissions', async () => {
    for (const depth of [5_000, 100_000, 1_000_000]) {
      const single = await h.post('/api/jobs', `{"task":"demo.sleep","payload":${deepArrays(depth)}}`);
      // A million levels is also over the single endpoint's body limit; either way a 4xx.
      expect(single.status).toBe(depth < 1_000_000 ? 400 : 413);
      if (depth < 1_000_000) {
        expect(single.body.error.code).toBe('PAYLOAD_TOO_DEEP');
        expect(single.body.error.message).toMatch(
          /nested deeper than 256 levels \(a job's payload may be nested at most 64\)/,
        );
      }
      const bulk = await h.post('/api/jobs/bulk', `{"jobs":[{"task":"demo.sleep","payload":${deepArrays(depth)}}]}`);
      expect(bulk.status).toBe(400);
      expect(bulk.body.error.code).toBe('PAYLOAD_TOO_DEEP');
    }
    expect((await h.get('/api/jobs')).body.jobs).toEqual([]);
    expect((await h.get('/healthz')).status).toBe(200);
  });
});
