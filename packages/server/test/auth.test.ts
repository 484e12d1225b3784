import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness, HarnessBackend } from './harness.js';
import { ADMIN, TEST_ADMIN_TOKEN, startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Accounts and tokens through the API, on every backend: the store keeps them. */
describe.each<HarnessBackend>(['sqlite', 'postgres', 'redis'])('accounts and tokens on %s', (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend, agents: 0 });
  });
  afterAll(async () => h.close());

  it('lets the built-in admin create users and mint tokens that authenticate as them', async () => {
    const created = await h.post('/api/users', { name: 'ada', weight: 2 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'ada', role: 'user', weight: 2 });
    const minted = await h.post('/api/users/ada/tokens', {});
    expect(minted.status).toBe(201);
    expect(minted.body.token).toMatch(/^baton_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(minted.body.token.slice(6, 22)).toBe(minted.body.id);

    const me = await h.get('/api/me', bearer(minted.body.token));
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ name: 'ada', role: 'user', weight: 2, builtIn: false });
    const admin = await h.get('/api/me');
    expect(admin.body).toMatchObject({ name: 'admin', role: 'admin', builtIn: true });

    // The store holds the digest only: the secret appears nowhere in what it returns.
    const stored = await h.store.getToken(minted.body.id);
    expect(stored?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(minted.body.token.slice(23));
    const listed = await h.get('/api/users/ada/tokens');
    expect(listed.body.tokens).toEqual([{ id: minted.body.id, user: 'ada', createdAt: expect.any(String) }]);
  });

  it('answers 409 for a taken name and 400 for a bad one, storing nothing', async () => {
    await h.post('/api/users', { name: 'bo' });
    expect((await h.post('/api/users', { name: 'bo' })).body.error.code).toBe('USER_EXISTS');
    for (const bad of [
      { name: '' },
      { name: 'a b' },
      { name: 'x', role: 'root' },
      { name: 'y', weight: 0 },
      { name: 'z', extra: 1 },
    ]) {
      const r = await h.post('/api/users', bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    const names = (await h.get('/api/users')).body.users.map((u: { name: string }) => u.name);
    expect(names).not.toContain('x');
    expect(names).not.toContain('y');
  });

  it('changes a user’s weight and role (admin); a promoted user may manage users at once', async () => {
    await h.post('/api/users', { name: 'eli' });
    const token = (await h.post('/api/users/eli/tokens', {})).body.token;
    expect((await h.get('/api/users', bearer(token))).status).toBe(403);
    const changed = await h.request('PATCH', '/api/users/eli', { body: { weight: 4, role: 'admin' }, headers: ADMIN });
    expect(changed.body).toMatchObject({ name: 'eli', role: 'admin', weight: 4 });
    expect((await h.get('/api/users', bearer(token))).status).toBe(200);
    expect((await h.get('/api/me', bearer(token))).body).toMatchObject({ role: 'admin', weight: 4 });
    for (const bad of [{ weight: 0 }, { role: 'root' }, { name: 'x' }]) {
      expect(
        (await h.request('PATCH', '/api/users/eli', { body: bad, headers: ADMIN })).status,
        JSON.stringify(bad),
      ).toBe(400);
    }
    expect(
      (await h.request('PATCH', '/api/users/nobody', { body: { weight: 2 }, headers: ADMIN })).body.error.code,
    ).toBe('USER_NOT_FOUND');
    expect(
      (
        await h.request('PATCH', '/api/users/eli', {
          body: { weight: 9 },
          headers: bearer((await h.post('/api/users/ada/tokens', {})).body.token),
        })
      ).status,
    ).toBe(403);
  });

  it('revokes a token at once, and deleting a user revokes all theirs', async () => {
    await h.post('/api/users', { name: 'cy' });
    const t1 = (await h.post('/api/users/cy/tokens', {})).body;
    const t2 = (await h.post('/api/users/cy/tokens', {})).body;
    expect((await h.get('/api/me', bearer(t1.token))).status).toBe(200);
    // A user may revoke their own token.
    const revoked = await h.request('DELETE', `/api/tokens/${t1.id}`, { headers: bearer(t2.token) });
    expect(revoked.body).toEqual({ id: t1.id, user: 'cy', revoked: true });
    expect((await h.get('/api/me', bearer(t1.token))).status).toBe(401);
    expect((await h.request('DELETE', `/api/tokens/${t1.id}`, { headers: ADMIN })).status).toBe(404);

    expect((await h.request('DELETE', '/api/users/cy', { headers: ADMIN })).body).toEqual({
      name: 'cy',
      deleted: true,
    });
    expect((await h.get('/api/me', bearer(t2.token))).status).toBe(401);
    expect((await h.request('DELETE', '/api/users/cy', { headers: ADMIN })).body.error.code).toBe('USER_NOT_FOUND');
  });
});

describe('authentication', () => {
  let h: Harness;
  let user: string;
  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
    await h.post('/api/users', { name: 'dee' });
    user = (await h.post('/api/users/dee/tokens', {})).body.token;
  });
  afterAll(async () => h.close());

  it('answers 401 with no token, a malformed one, an unknown one or a wrong secret', async () => {
    const wrongSecret = `${user.slice(0, 23)}${'A'.repeat(43)}`;
    for (const headers of [
      {},
      { authorization: 'Basic YWRtaW46YWRtaW4=' },
      bearer('nonsense'),
      bearer(`baton_0123456789abcdef_${'B'.repeat(43)}`),
      bearer(wrongSecret),
      bearer(`${TEST_ADMIN_TOKEN}x`),
    ]) {
      const r = await h.request('GET', '/api/jobs', { headers });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHORIZED');
    }
    // An unknown API path is a 401 too: routes cannot be mapped without a token.
    expect((await h.request('GET', '/api/nothing-here')).status).toBe(401);
    // Probes stay open.
    expect((await h.request('GET', '/healthz')).status).toBe(200);
  });

  it('answers 403 to a user on an admin endpoint, and to a user acting for another', async () => {
    for (const [method, path, body] of [
      ['POST', '/api/users', { name: 'eve' }],
      ['GET', '/api/users', undefined],
      ['DELETE', '/api/users/dee', undefined],
      ['POST', '/api/users/admin/tokens', {}],
      ['GET', '/api/agents', undefined],
      ['GET', '/api/shards', undefined],
      ['PUT', '/api/quota/default', { maxGpus: 1 }],
      ['PUT', '/api/users/dee/quota', { maxGpus: 100 }],
    ] as const) {
      const r = await h.request(method, path, { headers: bearer(user), body });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
    }
    const acting = await h.request('GET', '/api/jobs', { headers: { ...bearer(user), 'x-baton-user': 'admin' } });
    expect(acting.status).toBe(403);
    // Naming themself is harmless.
    expect((await h.request('GET', '/api/jobs', { headers: { ...bearer(user), 'x-baton-user': 'dee' } })).status).toBe(
      200,
    );
    expect((await h.get('/api/users')).body.users.map((u: { name: string }) => u.name)).not.toContain('eve');
  });

  it('refuses the agent token on the user API', async () => {
    const h2 = await startHarness({ agents: 0, link: 'ws' });
    try {
      const { TEST_AGENT_TOKEN } = await import('./agent-wire-client.js');
      const r = await h2.request('GET', '/api/jobs', { headers: bearer(TEST_AGENT_TOKEN) });
      expect(r.status).toBe(401);
    } finally {
      await h2.close();
    }
  });

  it('lets an admin submit for a user with X-Baton-User', async () => {
    const r = await h.post('/api/jobs', { task: 'demo.echo', payload: {}, delayMs: 60_000 }, { 'x-baton-user': 'dee' });
    expect(r.status).toBe(201);
    expect((await h.get(`/api/jobs/${r.body.id}`, bearer(user))).body.owner).toBe('dee');
  });
});

describe('bad-token slow-down', () => {
  it('answers 429 with Retry-After once an address sent too many bad tokens, good ones included', async () => {
    const h = await startHarness({ agents: 0 });
    try {
      for (let i = 0; i < 10; i++) {
        expect((await h.request('GET', '/api/me', { headers: bearer(`guess-${i}-0123456789abcdef`) })).status).toBe(
          401,
        );
      }
      // The eleventh failure blocks the address.
      expect((await h.request('GET', '/api/me', { headers: bearer('guess-10-0123456789abcdef') })).status).toBe(401);
      const blocked = await h.request('GET', '/api/me', { headers: bearer('guess-11-0123456789abcdef') });
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('TOO_MANY_FAILED_LOGINS');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await h.get('/api/me')).status).toBe(429);
      // Probes are never slowed.
      expect((await h.request('GET', '/healthz')).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe('bad-token slow-down behind a reverse proxy', () => {
  const guess = (i: number) => bearer(`guess-${i}-0123456789abcdef`);
  const flood = async (h: Harness, client: string) => {
    for (let i = 0; i < 12; i++)
      await h.request('GET', '/api/me', { headers: { ...guess(i), 'x-forwarded-for': client } });
  };

  it('with trustProxy, counts each forwarded client on its own', async () => {
    const h = await startHarness({ agents: 0, trustProxy: '127.0.0.1' });
    try {
      await flood(h, '10.0.0.1');
      const blocked = await h.request('GET', '/api/me', { headers: { ...ADMIN, 'x-forwarded-for': '10.0.0.1' } });
      expect(blocked.status).toBe(429);
      const other = await h.request('GET', '/api/me', { headers: { ...ADMIN, 'x-forwarded-for': '10.0.0.2' } });
      expect(other.status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('without it, a forwarded address is not believed: the connection is blocked', async () => {
    const h = await startHarness({ agents: 0 });
    try {
      await flood(h, '10.0.0.1');
      const spoofed = await h.request('GET', '/api/me', { headers: { ...ADMIN, 'x-forwarded-for': '10.0.0.2' } });
      expect(spoofed.status).toBe(429);
    } finally {
      await h.close();
    }
  });

  it('refuses a trustProxy entry that is no address or range', async () => {
    const { resolveServerOptions } = await import('@baton/server');
    for (const bad of ['nonsense', '10.0.0.0/33', '::1/129', '10.0.0.1/8/2', '']) {
      expect(() => resolveServerOptions({ trustProxy: bad }), bad).toThrow(/trustProxy/);
    }
    expect(resolveServerOptions({ trustProxy: '10.0.0.0/8, ::1' }).trustProxy).toBe('10.0.0.0/8,::1');
  });
});
