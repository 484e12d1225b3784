import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from './harness.js';
import { startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const HOUR = 3_600_000;

/** GET /api/jobs's task and time filters, and GET /api/jobs/counts. */
describe('job listing filters and counts', () => {
  let h: Harness;
  let ada: Record<string, string>;
  let vic: Record<string, string>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
    await h.post('/api/users', { name: 'ada' });
    await h.post('/api/users', { name: 'vic', role: 'viewer' });
    ada = bearer((await h.post('/api/users/ada/tokens', {})).body.token);
    vic = bearer((await h.post('/api/users/vic/tokens', {})).body.token);
    const submit = async (name: string, body: object, headers: Record<string, string>) => {
      ids[name] = (await h.request('POST', '/api/jobs', { body, headers })).body.id;
      await new Promise((r) => setTimeout(r, 5));
    };
    await submit('adaEcho', { task: 'demo.echo' }, ada);
    await submit('adaSleep', { task: 'demo.sleep', delayMs: HOUR }, ada);
    await submit('adminEcho', { task: 'demo.echo' }, { authorization: 'Bearer test-admin-token-0123456789' });
    await h.request('POST', `/api/jobs/${ids.adaEcho}/cancel`, { headers: ada });
  });
  afterAll(async () => h.close());

  const listed = async (query: string, headers?: Record<string, string>) =>
    ((await h.get(`/api/jobs?${query}`, headers)).body.jobs as { id: string }[]).map((j) => j.id);

  it('filters by task and by creation time (since inclusive, until exclusive)', async () => {
    expect(await listed('task=demo.echo')).toEqual([ids.adminEcho, ids.adaEcho]);
    expect(await listed('task=demo.echo', ada)).toEqual([ids.adaEcho]);
    const sleep = (await h.get(`/api/jobs/${ids.adaSleep}`)).body;
    const createdAt = Date.parse(sleep.createdAt);
    expect(await listed(`since=${createdAt}&until=${createdAt + 1}`)).toEqual([ids.adaSleep]);
    expect(await listed(`until=${createdAt}`)).toEqual([ids.adaEcho]);
    expect(await listed(`since=${createdAt + 1}`)).toEqual([ids.adminEcho]);
    expect(await listed(`since=${createdAt}&task=demo.echo&owner=admin`, vic)).toEqual([ids.adminEcho]);
  });

  it('refuses bad filter values with 400 VALIDATION_FAILED', async () => {
    for (const q of [
      'since=abc',
      'since=-1',
      'until=1e3',
      'until=',
      'since=5&until=4',
      'task=a%20b',
      'since=99999999999999999',
    ]) {
      const r = await h.get(`/api/jobs?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe('VALIDATION_FAILED');
    }
  });

  it('counts jobs by state from the kept counts: everyone’s for admin and viewer, a user their own', async () => {
    const all = await h.get('/api/jobs/counts');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      counts: expect.objectContaining({ queued: 1, delayed: 1, cancelled: 1, running: 0, succeeded: 0 }),
      total: 3,
    });
    expect(Object.keys(all.body.counts).sort()).toEqual([
      'assigned',
      'blocked',
      'cancelled',
      'delayed',
      'failed',
      'queued',
      'running',
      'skipped',
      'succeeded',
    ]);
    expect((await h.get('/api/jobs/counts', vic)).body).toEqual(all.body);
    expect((await h.get('/api/jobs/counts', ada)).body).toMatchObject({
      counts: { delayed: 1, cancelled: 1, queued: 0 },
      total: 2,
    });
    expect((await h.get('/api/jobs/counts?owner=ada', ada)).body.total).toBe(2);
    expect((await h.get('/api/jobs/counts?owner=admin')).body).toMatchObject({ counts: { queued: 1 }, total: 1 });
    expect((await h.get('/api/jobs/counts?queue=default&owner=ada', vic)).body.total).toBe(2);
    expect((await h.get('/api/jobs/counts?queue=nowhere')).body.total).toBe(0);
    const other = await h.get('/api/jobs/counts?owner=admin', ada);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('FORBIDDEN');
    expect((await h.get('/api/jobs/counts?state=queued')).status).toBe(400);
  });
});
