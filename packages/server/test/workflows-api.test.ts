import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from './harness.js';
import { ADMIN, startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A payload nested `depth` levels deep. */
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { v };
  return v;
};

/**
 * The workflow API's edge, with no agent (so nothing runs): validation of the whole workflow
 * before anything is stored, ownership, quotas, idempotency and paging of steps.
 */
describe('workflows API: validation, ownership, paging', () => {
  let h: Harness;
  let ann: Record<string, string>;
  let ben: Record<string, string>;

  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
    // Known routes on a second queue, for the unknown-queue check.
    await h.store.registerTasks([{ task: 'demo.echo', queue: 'gpu' }]);
    for (const name of ['ann', 'ben']) await h.post('/api/users', { name });
    ann = bearer((await h.post('/api/users/ann/tokens', {})).body.token);
    ben = bearer((await h.post('/api/users/ben/tokens', {})).body.token);
  });
  afterAll(async () => h.close());

  const stored = async () => ({
    workflows: (await h.get('/api/workflows?limit=500')).body.workflows.length as number,
    jobs: (await h.get('/api/jobs?limit=500')).body.jobs.length as number,
  });

  it('refuses each kind of bad workflow with a 400 naming the step, and stores nothing', async () => {
    const before = await stored();
    const ok = { id: 'a', task: 'demo.echo' };
    const cases: [unknown, number, string, RegExp][] = [
      [{ steps: [] }, 400, 'VALIDATION_FAILED', /steps must hold at least one step/],
      [{ steps: [ok], color: 'red' }, 400, 'VALIDATION_FAILED', /unknown field "color"/],
      [{ steps: [ok], onFailure: 'sometimes' }, 400, 'VALIDATION_FAILED', /onFailure/],
      [{ steps: [ok, { id: 'b', task: 5 }] }, 400, 'VALIDATION_FAILED', /^steps\[1\] \("b"\): /],
      [{ steps: [ok, { id: 'b', task: 'demo.echo', delayMs: 5 }] }, 400, 'VALIDATION_FAILED', /steps\[1\].*"delayMs"/],
      [{ steps: [ok, { id: 'bad id!', task: 'demo.echo' }] }, 400, 'VALIDATION_FAILED', /^steps\[1\]/],
      [{ steps: [ok, { ...ok }] }, 400, 'DUPLICATE_STEP', /steps\[1\]: step id "a" is used twice/],
      [{ steps: [ok, { id: 'b', task: 'demo.echo', needs: ['z'] }] }, 400, 'UNKNOWN_STEP', /"b".*unknown step "z"/],
      [
        {
          steps: [
            { id: 'a', task: 'demo.echo', needs: ['c'] },
            { id: 'b', task: 'demo.echo', needs: ['a'] },
            { id: 'c', task: 'demo.echo', needs: ['b'] },
          ],
        },
        400,
        'WORKFLOW_CYCLE',
        /cycle: "[abc]" → "[abc]" → "[abc]" → "[abc]"/,
      ],
      [{ steps: [ok, { id: 'b', task: 'no.such.task' }] }, 400, 'UNKNOWN_TASK', /^steps\[1\] \("b"\): unknown task/],
      [{ steps: [{ ...ok, queue: 'nowhere' }] }, 400, 'UNKNOWN_QUEUE', /^steps\[0\] \("a"\): unknown queue "nowhere"/],
      [{ steps: [{ ...ok, resources: { slots: 0 } }] }, 400, 'VALIDATION_FAILED', /^steps\[0\] \("a"\): resources/],
      [{ steps: [{ ...ok, payload: nested(80) }] }, 400, 'PAYLOAD_TOO_DEEP', /^steps\[0\] \("a"\): payload is nested/],
      [
        { steps: [{ id: 'run', task: 'command', payload: { argv: ['true'], env: { LD_PRELOAD: 'x' } } }] },
        400,
        'VALIDATION_FAILED',
        /^steps\[0\] \("run"\): payload\.env\.LD_PRELOAD/,
      ],
      [
        { steps: [ok, { id: 'b', task: 'demo.echo' }], maxSteps: 1 },
        400,
        'TOO_MANY_STEPS',
        /more than its maxSteps of 1/,
      ],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await h.post('/api/workflows', body, ann);
      expect(r.status, JSON.stringify(body).slice(0, 200)).toBe(status);
      expect(r.body.error.code, JSON.stringify(r.body)).toBe(code);
      expect(r.body.error.message).toMatch(message);
    }
    // The one that fails only at its last step's task check left nothing either.
    expect(await stored()).toEqual(before);
  });

  it('names the step of a payload over the size limit (413), storing nothing', async () => {
    const before = await stored();
    const big = 'x'.repeat(h.server.options.maxPayloadBytes + 10);
    const r = await h.post('/api/workflows', { steps: [{ id: 'a', task: 'demo.echo', payload: big }] }, ann);
    expect(r.status).toBe(413);
    expect(r.body.error.message).toMatch(/^steps\[0\] \("a"\): payload is \d+ bytes/);
    expect(await stored()).toEqual(before);
  });

  it('creates a workflow: 201, steps without needs queued, the rest blocked; a repeat with its key is 200 and the same', async () => {
    const body = {
      name: 'nightly',
      idempotencyKey: 'nightly-1',
      steps: [
        { id: 'a', task: 'demo.echo', payload: { n: 1 }, priority: 'high', maxAttempts: 2 },
        { id: 'b', task: 'demo.echo', needs: ['a'], queue: 'gpu' },
      ],
    };
    const first = await h.post('/api/workflows', body, ann);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      name: 'nightly',
      owner: 'ann',
      state: 'running',
      onFailure: 'fail-fast',
      counts: { steps: 2, succeeded: 0 },
      created: true,
    });
    const again = await h.post('/api/workflows', body, ann);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, created: false });

    const shown = await h.get(`/api/workflows/${first.body.id}`, ann);
    expect(shown.status).toBe(200);
    expect(
      shown.body.steps.map((s: { step: string; state: string; needs: string[] }) => [s.step, s.state, s.needs]),
    ).toEqual([
      ['a', 'queued', []],
      ['b', 'blocked', ['a']],
    ]);
    expect(shown.body.stepsCursor).toBeNull();
    // Each step is a job made as a job submission makes it, with its workflow and owner.
    const a = (await h.get(`/api/jobs/${shown.body.steps[0].jobId}`, ann)).body;
    expect(a).toMatchObject({
      owner: 'ann',
      priority: 'high',
      maxAttempts: 2,
      payload: { n: 1 },
      queue: 'default',
      workflow: { id: first.body.id, step: 'a', needs: [] },
    });
    expect(a.inputs).toBeUndefined();
    const b = (await h.get(`/api/jobs/${shown.body.steps[1].jobId}`, ann)).body;
    expect(b).toMatchObject({ state: 'blocked', queue: 'gpu', payload: {}, workflow: { step: 'b', needs: ['a'] } });
  });

  it('pages steps with stepsLimit and stepsCursor, and checks the query', async () => {
    const steps = Array.from({ length: 5 }, (_, i) => ({ id: `s${i}`, task: 'demo.echo' }));
    const id = (await h.post('/api/workflows', { steps }, ann)).body.id;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `?stepsLimit=2${cursor ? `&stepsCursor=${cursor}` : ''}`;
      const page = (await h.get(`/api/workflows/${id}${q}`, ann)).body;
      expect(page.steps.length).toBeLessThanOrEqual(2);
      seen.push(...page.steps.map((s: { step: string }) => s.step));
      cursor = page.stepsCursor;
    } while (cursor);
    expect(seen).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect((await h.get(`/api/workflows/${id}?stepsLimit=0`, ann)).status).toBe(400);
    expect((await h.get(`/api/workflows/${id}?stepsCursor=nope`, ann)).status).toBe(400);
    expect((await h.get('/api/workflows/not-an-id', ann)).body.error.code).toBe('INVALID_WORKFLOW_ID');
  });

  it("answers another user's workflow like one that does not exist; lists only a user's own; an admin sees all", async () => {
    const annId = (await h.post('/api/workflows', { steps: [{ id: 'a', task: 'demo.echo' }] }, ann)).body.id;
    const benId = (await h.post('/api/workflows', { steps: [{ id: 'a', task: 'demo.echo' }] }, ben)).body.id;
    const missing = '01JDB5Q2X8W6K7C3V9M4N0P1R2';
    for (const [method, suffix] of [
      ['GET', ''],
      ['POST', '/cancel'],
      ['POST', '/retry'],
    ] as const) {
      const theirs = await h.request(method, `/api/workflows/${benId}${suffix}`, {
        headers: ann,
        ...(method === 'POST' && { body: {} }),
      });
      const none = await h.request(method, `/api/workflows/${missing}${suffix}`, {
        headers: ann,
        ...(method === 'POST' && { body: {} }),
      });
      expect(theirs.status, suffix).toBe(404);
      expect(theirs.body.error.code).toBe('WORKFLOW_NOT_FOUND');
      expect(theirs.body.error.message.replace(benId, 'X')).toBe(none.body.error.message.replace(missing, 'X'));
    }
    expect((await h.get(`/api/workflows/${benId}`, ben)).body.state).toBe('running');
    const ids = async (headers: Record<string, string>, query = '') =>
      (await h.get(`/api/workflows${query}`, headers)).body.workflows.map((w: { id: string }) => w.id);
    expect(await ids(ann)).toContain(annId);
    expect(await ids(ann)).not.toContain(benId);
    expect(await ids(ben)).toEqual([benId]);
    expect(await ids(ADMIN)).toEqual(expect.arrayContaining([annId, benId]));
    expect(await ids(ADMIN, '?owner=ben')).toEqual([benId]);
    expect((await h.get('/api/workflows?owner=ben', ann)).status).toBe(403);
    expect((await h.get('/api/workflows?state=finished', ann)).status).toBe(400);
    // Every endpoint wants a token.
    for (const [method, path] of [
      ['GET', '/api/workflows'],
      ['GET', `/api/workflows/${annId}`],
      ['POST', '/api/workflows'],
      ['POST', `/api/workflows/${annId}/cancel`],
      ['POST', `/api/workflows/${annId}/retry`],
    ] as const) {
      expect((await h.request(method, path, method === 'POST' ? { body: {} } : {})).status, path).toBe(401);
    }
    // An admin cancels a user's workflow.
    const cancelled = await h.post(`/api/workflows/${benId}/cancel`, {});
    expect(cancelled.body).toMatchObject({ id: benId, state: 'cancelled', counts: { cancelled: 1 } });
    const twice = await h.post(`/api/workflows/${benId}/cancel`, {}, ben);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('WORKFLOW_FINISHED');
    const running = await h.post(`/api/workflows/${annId}/retry`, {}, ann);
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe('WORKFLOW_RUNNING');
    const badRetry = await h.post(`/api/workflows/${annId}/retry`, { from: 'a', also: 1 }, ann);
    expect(badRetry.status).toBe(400);
  });

  it('counts every step against maxQueuedJobs', async () => {
    await h.post('/api/users', { name: 'cat' });
    const cat = bearer((await h.post('/api/users/cat/tokens', {})).body.token);
    await h.request('PUT', '/api/users/cat/quota', { headers: ADMIN, body: { maxQueuedJobs: 3 } });
    const steps = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `s${i}`, task: 'demo.echo' }));
    const over = await h.post('/api/workflows', { steps: steps(4) }, cat);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('QUOTA_EXCEEDED');
    expect((await h.get('/api/workflows', cat)).body.workflows).toEqual([]);
    expect((await h.post('/api/workflows', { steps: steps(3) }, cat)).status).toBe(201);
  });

  it('takes a 10 000-step workflow in one request', async () => {
    const steps = [
      { id: 'root', task: 'demo.echo' },
      ...Array.from({ length: 9_999 }, (_, i) => ({ id: `leaf-${i}`, task: 'demo.echo', needs: ['root'] })),
    ];
    const r = await h.post('/api/workflows', { name: 'wide', steps }, ann);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(201);
    expect(r.body.counts.steps).toBe(10_000);
    const page = (await h.get(`/api/workflows/${r.body.id}`, ann)).body;
    expect(page.steps).toHaveLength(200);
    expect(page.stepsCursor).not.toBeNull();
    const over = await h.post('/api/workflows', { steps: [...steps, { id: 'one-more', task: 'demo.echo' }] }, ann);
    expect(over.status).toBe(400);
  }, 60_000);
});
