import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness, HarnessBackend } from './harness.js';
import { isFinal, startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const HOUR = 3_600_000;

/** Retrying a finished job, and bulk cancel / retry of a filtered set, through the API. */
describe.each<HarnessBackend>(['sqlite', 'postgres', 'redis'])('job actions on %s', (backend) => {
  let h: Harness;
  let ada: Record<string, string>;
  let bo: Record<string, string>;
  const submit = async (body: object, headers: Record<string, string>) =>
    (await h.request('POST', '/api/jobs', { body, headers })).body.id as string;

  beforeAll(async () => {
    h = await startHarness({ backend });
    for (const name of ['ada', 'bo']) await h.post('/api/users', { name });
    ada = bearer((await h.post('/api/users/ada/tokens', {})).body.token);
    bo = bearer((await h.post('/api/users/bo/tokens', {})).body.token);
  });
  afterAll(async () => h.close());

  it('retries a failed job as a new job with the same spec: 201 {job, retryOf}', async () => {
    const spec = {
      task: 'demo.fail',
      payload: { message: 'again' },
      priority: 'high',
      priorityLevel: 3,
      maxAttempts: 1,
      backoffMs: 7,
      timeoutMs: 60_000,
      idempotencyKey: 'once',
      constraints: { tags: [] },
    };
    const id = await submit(spec, ada);
    const failed = await h.waitFor(id, isFinal);
    expect(failed.state).toBe('failed');
    const r = await h.request('POST', `/api/jobs/${id}/retry`, { headers: ada });
    expect(r.status).toBe(201);
    expect(r.body.retryOf).toBe(id);
    expect(r.body.job.id).not.toBe(id);
    expect(r.body.job).toMatchObject({
      task: 'demo.fail',
      queue: failed.queue,
      owner: 'ada',
      payload: { message: 'again' },
      priority: 'high',
      priorityLevel: 3,
      maxAttempts: 1,
      backoffMs: 7,
      timeoutMs: 60_000,
      resources: failed.resources,
      idempotencyKey: null,
      attempts: 0,
    });
    expect(['queued', 'assigned', 'running', 'failed']).toContain(r.body.job.state);
    await h.waitFor(r.body.job.id, isFinal);
    // Succeeded and cancelled jobs may be retried too.
    const ok = await submit({ task: 'demo.echo' }, ada);
    await h.waitFor(ok, isFinal);
    expect((await h.request('POST', `/api/jobs/${ok}/retry`, { headers: ada })).status).toBe(201);
  });

  it('refuses a job that is not final (409 JOB_NOT_FINISHED), a workflow step (409 WORKFLOW_STEP), another user’s (404)', async () => {
    const later = await submit({ task: 'demo.echo', delayMs: HOUR }, ada);
    const notFinished = await h.request('POST', `/api/jobs/${later}/retry`, { headers: ada });
    expect(notFinished.status).toBe(409);
    expect(notFinished.body.error).toMatchObject({ code: 'JOB_NOT_FINISHED', details: { state: 'delayed' } });
    expect((await h.request('POST', `/api/jobs/${later}/retry`, { headers: bo })).body.error.code).toBe(
      'JOB_NOT_FOUND',
    );
    expect((await h.request('POST', `/api/jobs/${later}/retry`, { headers: bo })).status).toBe(404);

    const wf = await h.request('POST', '/api/workflows', {
      body: { steps: [{ id: 'only', task: 'demo.echo' }] },
      headers: ada,
    });
    const shown = await h.get(`/api/workflows/${wf.body.id}`, ada);
    const step = shown.body.steps[0].jobId as string;
    await h.waitFor(step, isFinal);
    const stepRetry = await h.request('POST', `/api/jobs/${step}/retry`, { headers: ada });
    expect(stepRetry.status).toBe(409);
    expect(stepRetry.body.error.code).toBe('WORKFLOW_STEP');
    expect(stepRetry.body.error.message).toMatch(/retry the workflow from this step/);
  });

  it('applies the owner’s quota to a retry (429 QUOTA_EXCEEDED, nothing stored)', async () => {
    await h.post('/api/users', { name: 'cy' });
    const cy = bearer((await h.post('/api/users/cy/tokens', {})).body.token);
    const done = await submit({ task: 'demo.echo' }, cy);
    await h.waitFor(done, isFinal);
    await h.request('PUT', '/api/users/cy/quota', {
      body: { maxQueuedJobs: 0 },
      headers: { authorization: 'Bearer test-admin-token-0123456789' },
    });
    const r = await h.request('POST', `/api/jobs/${done}/retry`, { headers: cy });
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('QUOTA_EXCEEDED');
    const bulk = await h.request('POST', '/api/jobs/bulk-retry', { body: { filter: {} }, headers: cy });
    expect(bulk.body.error.code).toBe('QUOTA_EXCEEDED');
    expect((await h.get('/api/jobs?owner=cy')).body.jobs).toHaveLength(1);
  });

  it('bulk-cancels a filtered set: a dry run counts and changes nothing, then only the user’s own are cancelled', async () => {
    const task = 'demo.sleep';
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await submit({ task, delayMs: HOUR, payload: { ms: 1 } }, ada));
    const theirs = await submit({ task, delayMs: HOUR }, bo);
    const dry = await h.request('POST', '/api/jobs/bulk-cancel', {
      body: { filter: { task, state: 'delayed' }, dryRun: true },
      headers: ada,
    });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({ matched: 5, acted: 5, skipped: 0, truncated: false });
    expect((await h.get(`/api/jobs/${mine[0]}`)).body.state).toBe('delayed');

    const capped = await h.request('POST', '/api/jobs/bulk-cancel', {
      body: { filter: { task }, max: 2 },
      headers: ada,
    });
    expect(capped.body).toEqual({ matched: 2, acted: 2, skipped: 0, truncated: true });
    const rest = await h.request('POST', '/api/jobs/bulk-cancel', { body: { filter: { task } }, headers: ada });
    expect(rest.body).toEqual({ matched: 3, acted: 3, skipped: 0, truncated: false });
    for (const id of mine) expect((await h.get(`/api/jobs/${id}`)).body.state).toBe('cancelled');
    expect((await h.get(`/api/jobs/${theirs}`)).body.state).toBe('delayed');

    // Asked for a final state, every job matched is skipped.
    const finals = await h.request('POST', '/api/jobs/bulk-cancel', {
      body: { filter: { task, state: 'cancelled' } },
      headers: ada,
    });
    expect(finals.body).toEqual({ matched: 5, acted: 0, skipped: 5, truncated: false });
    // The admin acts on anyone's.
    const admin = await h.post('/api/jobs/bulk-cancel', { filter: { task, owner: 'bo' } });
    expect(admin.body).toMatchObject({ matched: 1, acted: 1 });
  });

  it('bulk-retries final jobs, skipping workflow steps and jobs not final', async () => {
    const task = 'demo.fail';
    const since = Date.now();
    const failed = [];
    for (let i = 0; i < 3; i++) failed.push(await submit({ task, maxAttempts: 1 }, bo));
    for (const id of failed) await h.waitFor(id, isFinal);
    const waiting = await submit({ task, delayMs: HOUR }, bo);
    const dry = await h.request('POST', '/api/jobs/bulk-retry', {
      body: { filter: { task, since }, dryRun: true },
      headers: bo,
    });
    expect(dry.body).toEqual({ matched: 3, acted: 3, skipped: 0, truncated: false });
    expect((await h.get(`/api/jobs?owner=bo&task=${task}&since=${since}`)).body.jobs).toHaveLength(4);
    const notFinal = await h.request('POST', '/api/jobs/bulk-retry', {
      body: { filter: { task, state: 'delayed' } },
      headers: bo,
    });
    expect(notFinal.body).toEqual({ matched: 1, acted: 0, skipped: 1, truncated: false });
    const until = Date.now() + 1;
    const done = await h.request('POST', '/api/jobs/bulk-retry', {
      body: { filter: { task, since, until, state: 'failed' } },
      headers: bo,
    });
    expect(done.body).toEqual({ matched: 3, acted: 3, skipped: 0, truncated: false });
    const listed = (await h.get(`/api/jobs?owner=bo&task=${task}&since=${since}&limit=100`)).body.jobs;
    expect(listed).toHaveLength(7);
    expect((await h.get(`/api/jobs/${waiting}`)).body.state).toBe('delayed');

    const wf = await h.request('POST', '/api/workflows', {
      body: { steps: [{ id: 's', task: 'demo.echo' }] },
      headers: bo,
    });
    const step = (await h.get(`/api/workflows/${wf.body.id}`, bo)).body.steps[0].jobId as string;
    await h.waitFor(step, isFinal);
    const steps = await h.request('POST', '/api/jobs/bulk-retry', {
      body: { filter: { task: 'demo.echo', state: 'succeeded' }, dryRun: true },
      headers: bo,
    });
    expect(steps.body).toEqual({ matched: 1, acted: 0, skipped: 1, truncated: false });
  });

  it('refuses bad bulk bodies (400) and another user’s owner (403), changing nothing', async () => {
    const later = await submit({ task: 'demo.echo', delayMs: HOUR }, ada);
    for (const body of [
      {},
      { filter: {}, extra: 1 },
      { filter: { color: 'red' } },
      { filter: {}, max: 0 },
      { filter: {}, max: 10_001 },
      { filter: {}, dryRun: 'yes' },
      { filter: { state: 'done' } },
      { filter: { since: -1 } },
      { filter: { since: 10, until: 5 } },
    ]) {
      for (const path of ['/api/jobs/bulk-cancel', '/api/jobs/bulk-retry']) {
        const r = await h.request('POST', path, { body, headers: ada });
        expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
        expect(r.body.error.code).toBe('VALIDATION_FAILED');
      }
    }
    const r = await h.request('POST', '/api/jobs/bulk-cancel', { body: { filter: { owner: 'bo' } }, headers: ada });
    expect(r.status).toBe(403);
    expect((await h.get(`/api/jobs/${later}`)).body.state).toBe('delayed');
  });
});
