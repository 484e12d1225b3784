import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Harness } from './harness.js';
import { ADMIN, TEST_ADMIN_TOKEN, startHarness } from './harness.js';

interface Opened {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
}

/** `/api/events` opened without an Authorization header: the token comes in the first message. */
describe('GET /api/events with the token in a message (browsers)', () => {
  let h: Harness;
  let ada: string;
  let bensJob: string;

  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
    for (const name of ['ada', 'ben']) await h.post('/api/users', { name });
    ada = (await h.post('/api/users/ada/tokens', {})).body.token;
    const ben = (await h.post('/api/users/ben/tokens', {})).body.token;
    bensJob = (
      await h.request('POST', '/api/jobs', {
        body: { task: 'demo.echo', delayMs: 600_000 },
        headers: { authorization: `Bearer ${ben}` },
      })
    ).body.id;
  });
  afterAll(async () => h.close());

  const open = (query = '', headers: Record<string, string> = {}) =>
    new Promise<Opened>((resolve, reject) => {
      const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/events${query}`, { headers });
      const messages: Record<string, unknown>[] = [];
      ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
      const closed = new Promise<{ code: number; reason: string }>((done) =>
        ws.once('close', (code, reason) => done({ code, reason: String(reason) })),
      );
      ws.once('open', () => resolve({ ws, messages, closed }));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
      ws.once('error', reject);
    });

  it('upgrades without a header, sends nothing before the auth message, then ready and the stream', async () => {
    const s = await open('?types=enqueued,cancelled');
    try {
      await h.post('/api/jobs', { task: 'demo.echo', delayMs: 600_000 });
      await new Promise((r) => setTimeout(r, 200));
      expect(s.messages).toEqual([]);
      s.ws.send(JSON.stringify({ type: 'auth', token: TEST_ADMIN_TOKEN }));
      await expect.poll(() => s.messages.length).toBe(1);
      expect(s.messages[0]).toEqual({ type: 'ready', name: 'admin', role: 'admin' });
      const { body } = await h.post('/api/jobs', { task: 'demo.echo', delayMs: 600_000 });
      await h.post(`/api/jobs/${body.id}/cancel`, {});
      await expect.poll(() => s.messages.map((m) => m.type)).toEqual(['ready', 'enqueued', 'cancelled']);
    } finally {
      s.ws.close();
    }
  });

  it('filters a user’s stream as with a header, and checks ?job= after auth (4404)', async () => {
    const s = await open();
    s.ws.send(JSON.stringify({ type: 'auth', token: ada }));
    await expect.poll(() => s.messages[0]).toEqual({ type: 'ready', name: 'ada', role: 'user' });
    s.ws.close();
    const other = await open(`?job=${bensJob}`);
    other.ws.send(JSON.stringify({ type: 'auth', token: ada }));
    expect((await other.closed).code).toBe(4404);
    expect(other.messages).toEqual([]);
  });

  it('closes 4401 for a bad token or a malformed message, 4403 for acting as another user', async () => {
    for (const message of [
      JSON.stringify({ type: 'auth', token: 'baton_0123456789abcdef_' + 'x'.repeat(43) }),
      JSON.stringify({ type: 'auth' }),
      JSON.stringify({ type: 'hello', token: ada }),
      JSON.stringify({ type: 'auth', token: 'two words' }),
      'not json',
    ]) {
      const s = await open();
      s.ws.send(message);
      const closed = await s.closed;
      expect(closed.code, message).toBe(4401);
      expect(closed.reason).not.toContain(ada);
      expect(s.messages).toEqual([]);
    }
    const acting = await open('', { 'x-baton-user': 'ben' });
    acting.ws.send(JSON.stringify({ type: 'auth', token: ada }));
    expect((await acting.closed).code).toBe(4403);
  });

  it('closes a socket whose message is too big (1009) and one silent for 5 s (4401)', async () => {
    const big = await open();
    big.ws.send(JSON.stringify({ type: 'auth', token: 'x'.repeat(5000) }));
    expect((await big.closed).code).toBe(1009);
    const silent = await open();
    const started = Date.now();
    const closed = await silent.closed;
    expect(closed.code).toBe(4401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4500);
  }, 10_000);

  it('keeps the header path: a token in the header streams at once, a bad one is refused 401 before the upgrade', async () => {
    const s = await open('?types=cancelled', ADMIN);
    s.ws.close();
    await expect(open('', { authorization: 'Bearer nope' })).rejects.toThrow('status 401');
  });

  it('counts bad tokens in messages against the address: past the limit it closes 4429', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await open();
      s.ws.send(JSON.stringify({ type: 'auth', token: `baton_0123456789abcdef_${'y'.repeat(43)}` }));
      codes.push((await s.closed).code);
    }
    expect(codes).toContain(4429);
    // Blocked, a good token is refused too, as with a header.
    const good = await open();
    good.ws.send(JSON.stringify({ type: 'auth', token: ada }));
    expect((await good.closed).code).toBe(4429);
  });
});
