import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from './harness.js';
import { ADMIN, startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const UNLIMITED = { maxRunningJobs: null, maxGpus: null, maxQueuedJobs: null, submitRatePerSec: null };
const delayed = (i: number) => ({ task: 'demo.echo', payload: { i }, delayMs: 600_000 });

describe('quotas', () => {
  let h: Harness;
  let flo: Record<string, string>;
  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
    await h.post('/api/users', { name: 'flo' });
    await h.post('/api/users', { name: 'gus' });
    flo = bearer((await h.post('/api/users/flo/tokens', {})).body.token);
  });
  afterAll(async () => h.close());

  const put = (path: string, body: unknown, headers = ADMIN) => h.request('PUT', path, { body, headers });

  it('reads and sets the default and per-user quotas; a user reads their own', async () => {
    expect((await h.get('/api/quota/default')).body).toEqual({ quota: UNLIMITED });
    expect((await put('/api/quota/default', { maxGpus: 8 })).body).toEqual({ quota: { ...UNLIMITED, maxGpus: 8 } });
    expect((await h.get('/api/users/flo/quota', flo)).body).toEqual({
      user: 'flo',
      quota: { ...UNLIMITED, maxGpus: 8 },
      source: 'default',
    });
    // A user's first own quota starts from the default: the default's other limits stay.
    const own = await put('/api/users/flo/quota', { maxRunningJobs: 3 });
    expect(own.body).toEqual({ user: 'flo', quota: { ...UNLIMITED, maxGpus: 8, maxRunningJobs: 3 }, source: 'user' });
    expect((await put('/api/users/flo/quota', { maxGpus: null })).body.quota).toEqual({
      ...UNLIMITED,
      maxRunningJobs: 3,
    });
    expect((await h.get('/api/me', flo)).body.quota).toEqual({ ...UNLIMITED, maxRunningJobs: 3 });
    const reset = await h.request('DELETE', '/api/users/flo/quota', { headers: ADMIN });
    expect(reset.body).toEqual({ user: 'flo', quota: { ...UNLIMITED, maxGpus: 8 }, source: 'default' });
    expect((await h.get('/api/users/gus/quota', flo)).status).toBe(403);
    await put('/api/quota/default', { maxGpus: null });
  });

  it('refuses bad quotas with 400 and unknown users with 404, changing nothing', async () => {
    for (const bad of [
      { maxGpus: -1 },
      { maxGpus: 1.5 },
      { submitRatePerSec: 0 },
      { maxRunning: 1 },
      { maxQueuedJobs: 'x' },
    ]) {
      const r = await put('/api/users/gus/quota', bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await h.get('/api/users/gus/quota')).body.source).toBe('default');
    expect((await put('/api/users/nobody/quota', { maxGpus: 1 })).body.error.code).toBe('USER_NOT_FOUND');
  });

  it('refuses submissions past maxQueuedJobs whole, with 429 and Retry-After, storing nothing', async () => {
    await put('/api/users/flo/quota', { maxQueuedJobs: 3 });
    expect((await h.post('/api/jobs', delayed(1), flo)).status).toBe(201);
    const bulk = await h.post('/api/jobs/bulk', { jobs: [delayed(2), delayed(3), delayed(4)] }, flo);
    expect(bulk.status).toBe(429);
    expect(bulk.body.error.code).toBe('QUOTA_EXCEEDED');
    expect(
      Number(
        (
          await h.request('POST', '/api/jobs/bulk', {
            body: { jobs: [delayed(2), delayed(3), delayed(4)] },
            headers: flo,
          })
        ).headers.get('retry-after'),
      ),
    ).toBeGreaterThanOrEqual(1);
    expect((await h.get('/api/jobs', flo)).body.jobs).toHaveLength(1);
    expect((await h.post('/api/jobs/bulk', { jobs: [delayed(2), delayed(3)] }, flo)).status).toBe(201);
    expect((await h.post('/api/jobs', delayed(5), flo)).status).toBe(429);
    // Another user is not held by flo's quota.
    expect((await h.post('/api/jobs', delayed(6), { 'x-baton-user': 'gus' })).status).toBe(201);
    await h.request('DELETE', '/api/users/flo/quota', { headers: ADMIN });
  });

  it('limits the submission rate per user, with Retry-After', async () => {
    await put('/api/users/gus/quota', { submitRatePerSec: 2 });
    const gus = bearer((await h.post('/api/users/gus/tokens', {})).body.token);
    const statuses: number[] = [];
    let limited: { status: number; body: any; headers: Headers } | null = null;
    for (let i = 0; i < 6; i++) {
      const r = await h.request('POST', '/api/jobs', { body: delayed(i), headers: gus });
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    // A burst of one second's worth goes through; the rest of an instant burst is refused.
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 201).length).toBeLessThan(6);
    expect(limited?.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
