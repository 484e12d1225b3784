import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Harness } from './harness.js';
import { ADMIN, isFinal, startHarness } from './harness.js';

describe('GET /api/events (WebSocket)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const connect = (query: string) =>
    new Promise<{ ws: WebSocket; events: Record<string, unknown>[] }>((resolve, reject) => {
      const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/events${query}`, { headers: ADMIN });
      const events: Record<string, unknown>[] = [];
      ws.on('message', (data) => events.push(JSON.parse(String(data)) as Record<string, unknown>));
      ws.once('open', () => resolve({ ws, events }));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
      ws.once('error', reject);
    });

  it('streams the events asked for', async () => {
    const { ws, events } = await connect('?types=enqueued,changed');
    try {
      const { body } = await h.post('/api/jobs', { task: 'demo.echo', payload: { x: 1 } });
      await h.waitFor(body.id, isFinal);
      await expect.poll(() => events.map((e) => e.type)).toEqual(expect.arrayContaining(['enqueued', 'changed']));
      expect(events.find((e) => e.type === 'enqueued')).toMatchObject({ queues: ['default'] });
      expect(events.every((e) => e.type === 'enqueued' || e.type === 'changed')).toBe(true);
    } finally {
      ws.close();
    }
  });

  it("keeps one job's events with ?job=", async () => {
    const { body: other } = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 60_000 }, delayMs: 60_000 });
    const { body: mine } = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 60_000 }, delayMs: 60_000 });
    const { ws, events } = await connect(`?job=${mine.id}&types=cancelled`);
    try {
      await h.post(`/api/jobs/${other.id}/cancel`, {});
      await h.post(`/api/jobs/${mine.id}/cancel`, {});
      await expect.poll(() => events.length).toBe(1);
      expect(events[0]).toEqual({ type: 'cancelled', jobId: mine.id, agentId: null });
    } finally {
      ws.close();
    }
  });

  it('refuses an unknown event type before upgrading, with 400', async () => {
    await expect(connect('?types=enqueued,offer')).rejects.toThrow('status 400');
    await expect(connect('?types=bogus')).rejects.toThrow('status 400');
  });

  it('answers 404 on a path with no WebSocket endpoint', async () => {
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/nothing`);
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
        ws.once('open', () => reject(new Error('upgraded')));
        ws.once('error', () => {});
      }),
    ).resolves.toBe(404);
  });
});
