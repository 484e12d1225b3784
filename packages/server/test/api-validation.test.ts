import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from './harness.js';
import { startHarness } from './harness.js';

describe('API input validation: a clear 4xx and nothing stored', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ maxPayloadBytes: 2048 });
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
      headers: { 'content-type': 'text/plain' },
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
});
