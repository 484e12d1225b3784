import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Harness } from './harness.js';
import { ADMIN, isFinal, startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Two users on one server: each sees, lists, follows and cancels only their own jobs. */
describe('isolation between users', () => {
  let h: Harness;
  let ann: Record<string, string>;
  let ben: Record<string, string>;
  let annJob: string;
  let benJob: string;
  let annDone: string;

  beforeAll(async () => {
    h = await startHarness({ agents: 1 });
    for (const name of ['ann', 'ben']) await h.post('/api/users', { name });
    ann = bearer((await h.post('/api/users/ann/tokens', {})).body.token);
    ben = bearer((await h.post('/api/users/ben/tokens', {})).body.token);
    annJob = (await h.post('/api/jobs', { task: 'demo.echo', payload: { a: 1 }, delayMs: 600_000 }, ann)).body.id;
    benJob = (await h.post('/api/jobs', { task: 'demo.echo', payload: { b: 1 }, delayMs: 600_000 }, ben)).body.id;
    annDone = (await h.post('/api/jobs', { task: 'demo.echo', payload: { a: 2 } }, ann)).body.id;
    await h.waitFor(annDone, isFinal);
  });
  afterAll(async () => h.close());

  it('owns what each submits', async () => {
    expect((await h.get(`/api/jobs/${annJob}`, ann)).body.owner).toBe('ann');
    expect((await h.get(`/api/jobs/${benJob}`, ben)).body.owner).toBe('ben');
  });

  it("answers another user's job exactly like a job that does not exist", async () => {
    const missing = '01JDB5Q2X8W6K7C3V9M4N0P1R2';
    for (const path of [`/api/jobs/${benJob}`, `/api/jobs/${benJob}/logs`]) {
      const theirs = await h.get(path, ann);
      const none = await h.get(path.replace(benJob, missing), ann);
      expect(theirs.status, path).toBe(404);
      expect(theirs.body.error.code).toBe('JOB_NOT_FOUND');
      expect(theirs.body.error.message.replace(benJob, 'X')).toBe(none.body.error.message.replace(missing, 'X'));
    }
    const cancel = await h.post(`/api/jobs/${benJob}/cancel`, {}, ann);
    expect(cancel.status).toBe(404);
    expect((await h.get(`/api/jobs/${benJob}`, ben)).body.state).toBe('delayed');
    // Following another's logs is refused before anything streams.
    expect((await h.get(`/api/jobs/${benJob}/logs?follow=true`, ann)).status).toBe(404);
  });

  it('lists only their own jobs; an admin lists everyone’s', async () => {
    const ids = async (headers: Record<string, string>, query = '') =>
      (await h.get(`/api/jobs${query}`, headers)).body.jobs.map((j: { id: string }) => j.id).sort();
    expect(await ids(ann)).toEqual([annJob, annDone].sort());
    expect(await ids(ben)).toEqual([benJob]);
    expect(await ids(ann, '?state=delayed')).toEqual([annJob]);
    expect(await ids(ADMIN)).toEqual([annJob, annDone, benJob].sort());
    expect(await ids(ADMIN, '?owner=ben')).toEqual([benJob]);
    const asking = await h.get('/api/jobs?owner=ben', ann);
    expect(asking.status).toBe(403);
    expect(await ids(ann, '?owner=ann')).toEqual([annJob, annDone].sort());
  });

  it('counts only their own jobs in /api/queues; an admin counts all', async () => {
    const counts = async (headers: Record<string, string>) =>
      (await h.get('/api/queues', headers)).body.queues.find((q: { name: string }) => q.name === 'default').counts;
    expect(await counts(ann)).toMatchObject({ delayed: 1, succeeded: 1 });
    expect(await counts(ben)).toMatchObject({ delayed: 1, succeeded: 0 });
    expect(await counts(ADMIN)).toMatchObject({ delayed: 2, succeeded: 1 });
  });

  it('lets a user cancel their own job', async () => {
    const own = (await h.post('/api/jobs', { task: 'demo.echo', payload: {}, delayMs: 600_000 }, ben)).body.id;
    const r = await h.post(`/api/jobs/${own}/cancel`, {}, ben);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('cancelled');
  });

  it("streams a user only their own jobs' events, and no enqueued events", async () => {
    const connect = (headers: Record<string, string>, query = '') =>
      new Promise<{ ws: WebSocket; events: Record<string, unknown>[] }>((resolve, reject) => {
        const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/events${query}`, { headers });
        const events: Record<string, unknown>[] = [];
        ws.on('message', (data) => events.push(JSON.parse(String(data)) as Record<string, unknown>));
        ws.once('open', () => resolve({ ws, events }));
        ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
        ws.once('error', reject);
      });
    // Without a header the upgrade waits for the token in a message (events-browser-auth.test.ts).
    const unauthenticated = await connect({});
    await new Promise<void>((resolve) => {
      unauthenticated.ws.once('close', (code) => {
        expect(code).toBe(4401);
        resolve();
      });
      unauthenticated.ws.send(JSON.stringify({ type: 'auth', token: 'nope' }));
    });
    expect(unauthenticated.events).toEqual([]);
    await expect(connect(bearer('baton_0123456789abcdef_' + 'x'.repeat(43)))).rejects.toThrow('status 401');
    await expect(connect(ann, `?job=${benJob}`)).rejects.toThrow('status 404');

    const annSide = await connect(ann);
    const admin = await connect(ADMIN);
    try {
      const a = (await h.post('/api/jobs', { task: 'demo.echo', payload: {}, delayMs: 600_000 }, ann)).body.id;
      const b = (await h.post('/api/jobs', { task: 'demo.echo', payload: {}, delayMs: 600_000 }, ben)).body.id;
      await h.post(`/api/jobs/${b}/cancel`, {}, ben);
      await h.post(`/api/jobs/${a}/cancel`, {}, ann);
      await expect.poll(() => admin.events.filter((e) => e.type === 'cancelled').map((e) => e.jobId)).toEqual([b, a]);
      await expect.poll(() => annSide.events.filter((e) => e.type === 'cancelled').map((e) => e.jobId)).toEqual([a]);
      // Give a stray event time to arrive before asserting it did not.
      await new Promise((r) => setTimeout(r, 200));
      expect(annSide.events.some((e) => e.type === 'enqueued')).toBe(false);
      expect(annSide.events.some((e) => 'jobId' in e && e.jobId !== a)).toBe(false);
      expect(admin.events.some((e) => e.type === 'enqueued')).toBe(true);
    } finally {
      annSide.ws.close();
      admin.ws.close();
    }
  });
});
