import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Harness } from './harness.js';
import { gateTask, isFinal, startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A viewer sees what an admin sees and changes nothing, refused centrally by the auth hook. */
describe('the viewer role', () => {
  let h: Harness;
  let viewer: Record<string, string>;
  let ada: Record<string, string>;
  let adasJob: string;
  const gate = gateTask('viewer.gate');

  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
    await h.addAgent({ tasks: [gate.task] });
    await h.post('/api/users', { name: 'vic', role: 'viewer' });
    await h.post('/api/users', { name: 'ada' });
    viewer = bearer((await h.post('/api/users/vic/tokens', {})).body.token);
    ada = bearer((await h.post('/api/users/ada/tokens', {})).body.token);
    const done = await h.request('POST', '/api/jobs', {
      body: { task: 'demo.echo', payload: { hello: 'viewer' } },
      headers: ada,
    });
    await h.waitFor(done.body.id, isFinal);
    adasJob = (await h.request('POST', '/api/jobs', { body: { task: 'viewer.gate' }, headers: ada })).body.id;
    await h.waitFor(adasJob, (j) => j.state === 'running');
  });
  afterAll(async () => {
    gate.release();
    await h.close();
  });

  it('reads every user’s jobs, logs, queues, users, agents, shards and quotas', async () => {
    expect((await h.get('/api/me', viewer)).body).toMatchObject({ name: 'vic', role: 'viewer' });
    const job = await h.get(`/api/jobs/${adasJob}`, viewer);
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({ owner: 'ada', state: 'running' });
    expect((await h.get(`/api/jobs/${adasJob}/logs`, viewer)).status).toBe(200);
    const listed = await h.get('/api/jobs?owner=ada', viewer);
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).toContain(adasJob);
    const queues = await h.get('/api/queues', viewer);
    expect(queues.body.queues.find((q: { name: string }) => q.name === 'default').counts.running).toBe(1);
    for (const path of ['/api/agents', '/api/shards', '/api/users', '/api/quota/default', '/api/users/ada/quota']) {
      expect((await h.get(path, viewer)).status, path).toBe(200);
    }
    expect((await h.get('/api/users/ada/tokens', viewer)).body.tokens).toHaveLength(1);
    expect((await h.get('/api/workflows?owner=ada', viewer)).status).toBe(200);
    expect((await h.get('/api/scaling', viewer)).status).toBe(200);
    // A user still sees none of it.
    expect((await h.get('/api/agents', ada)).status).toBe(403);
  });

  it('is refused every change with 403 "a viewer token changes nothing", and nothing changes', async () => {
    const attempts: [string, string, unknown][] = [
      ['POST', `/api/jobs/${adasJob}/cancel`, undefined],
      ['POST', '/api/jobs', { task: 'demo.echo' }],
      ['POST', '/api/jobs/bulk', { jobs: [{ task: 'demo.echo' }] }],
      ['POST', '/api/jobs/bulk-cancel', { filter: {} }],
      ['POST', '/api/jobs/bulk-retry', { filter: {}, dryRun: true }],
      ['POST', `/api/jobs/${adasJob}/retry`, undefined],
      ['POST', '/api/users', { name: 'mallory' }],
      ['PATCH', '/api/users/vic', { role: 'admin' }],
      ['POST', '/api/users/vic/tokens', {}],
      ['PUT', '/api/quota/default', { maxRunningJobs: 1 }],
      ['DELETE', '/api/users/ada', undefined],
      ['POST', '/api/workflows', { steps: [] }],
      ['POST', '/api/nowhere', {}],
    ];
    const jobsBefore = (await h.get('/api/jobs?limit=100')).body.jobs.length;
    for (const [method, path, body] of attempts) {
      const r = await h.request(method, path, { ...(body !== undefined && { body }), headers: viewer });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error, `${method} ${path}`).toMatchObject({
        code: 'FORBIDDEN',
        message: 'a viewer token changes nothing',
      });
    }
    expect((await h.get(`/api/jobs/${adasJob}`)).body.state).toBe('running');
    expect((await h.get('/api/jobs?limit=100')).body.jobs.length).toBe(jobsBefore);
    expect((await h.get('/api/users')).body.users.map((u: { name: string }) => u.name)).toEqual(['ada', 'vic']);
    expect((await h.get('/api/me', viewer)).body.role).toBe('viewer');
    expect((await h.get('/api/users/vic/tokens')).body.tokens).toHaveLength(1);
  });

  it('hears every event on the stream, enqueued ones too', async () => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/events?types=enqueued`, { headers: viewer });
    const heard: { type: string }[] = [];
    ws.on('message', (data) => heard.push(JSON.parse(String(data)) as { type: string }));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    try {
      await h.request('POST', '/api/jobs', { body: { task: 'demo.echo', delayMs: 600_000 }, headers: ada });
      await expect.poll(() => heard.map((e) => e.type)).toContain('enqueued');
    } finally {
      ws.close();
    }
  });

  it('is made with PATCH like any role, and a viewer made admin may change things at once', async () => {
    await h.post('/api/users', { name: 'val' });
    const val = bearer((await h.post('/api/users/val/tokens', {})).body.token);
    expect(
      (await h.request('PATCH', '/api/users/val', { body: { role: 'viewer' }, headers: bearer('x') })).status,
    ).toBe(401);
    const patched = await h.request('PATCH', '/api/users/val', {
      body: { role: 'viewer' },
      headers: { authorization: `Bearer ${'test-admin-token-0123456789'}` },
    });
    expect(patched.body.role).toBe('viewer');
    expect((await h.request('POST', '/api/jobs', { body: { task: 'demo.echo' }, headers: val })).status).toBe(403);
    expect((await h.get('/api/agents', val)).status).toBe(200);
  });
});
