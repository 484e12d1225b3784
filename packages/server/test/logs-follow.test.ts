import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import { registerLogsRoutes } from '../dist/http/logs-routes.js';
// Brings the request's `principal` (declared with the API's authentication) into view.
import type {} from '../dist/http/authentication.js';
import { installErrorHandling } from '../dist/http/errors.js';
import type { ThrowawayServer } from '../../store/test/throwaway-servers.js';
import { throwawayRedis } from '../../store/test/throwaway-servers.js';

/**
 * Log reads and followers under hostile or unlucky conditions: a store that goes away while a
 * follower waits, a follower that stops reading while the job writes a lot, and a job with
 * more output than one answer carries.
 */
function newJob(): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue: 'default',
    task: 'logs.task',
    owner: 'local',
    payload: null,
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    maxAttempts: 1,
    backoffMs: 0,
    timeoutMs: null,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a log follower whose store goes away', () => {
  it('ends its response with a STORE_UNAVAILABLE line, and the server stays up', async () => {
    const db: ThrowawayServer = await throwawayRedis();
    cleanups.push(() => db.dispose());
    const store = await openStore(db.storeUrl(`follow_${randomBytes(4).toString('hex')}`));
    cleanups.push(() => store.close());
    const server = createBatonServer(store, { insecureNoAuth: true, maxSweepMs: 100 });
    cleanups.push(() => server.close());
    const url = await server.listen(0);
    const [queued] = await store.enqueue([newJob()]);
    const id = queued!.job.id;
    await store.appendLogs([{ jobId: id, attempt: 1, stream: 'stdout', data: 'before\n' }]);

    const response = await fetch(`${url}/api/jobs/${id}/logs?follow=true&format=json`);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let body = '';
    const first = await reader.read();
    body += decoder.decode(first.value, { stream: true });
    expect(body).toContain('before');

    await db.stop();
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      body += decoder.decode(next.value, { stream: true });
    }
    const lines = body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ data: 'before\n' });
    expect(lines[lines.length - 1]).toEqual({
      error: { code: 'STORE_UNAVAILABLE', message: expect.any(String), details: null },
    });

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await db.start();
    await vi.waitFor(async () => expect((await fetch(`${url}/api/jobs/${id}`)).status).toBe(200), {
      timeout: 10_000,
      interval: 50,
    });
  });
});

/** A bare API with only the logs routes, with small follower limits, and every response it opened. */
async function logsApi(store: Store, followLimits: Record<string, number>) {
  const app = Fastify();
  installErrorHandling(app);
  const raws: ServerResponse[] = [];
  app.addHook('onRequest', async (request, reply) => {
    raws.push(reply.raw);
    // The logs routes alone, without the API's authentication: every request is an admin's.
    request.principal = { name: 'admin', role: 'admin', builtIn: true };
  });
  registerLogsRoutes(app, { store, followLimits });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  cleanups.push(async () => {
    app.server.closeAllConnections();
    await app.close();
  });
  return { port, url: `http://127.0.0.1:${port}`, raws };
}

describe('a log follower that stops reading', () => {
  it('is never buffered for past its cap, and is cut off once blocked too long', async () => {
    const store = await openStore('sqlite::memory:');
    cleanups.push(() => store.close());
    const maxBufferedBytes = 256 * 1024;
    const api = await logsApi(store, { maxBufferedBytes, stallMs: 300, checkMs: 50 });
    const [queued] = await store.enqueue([newJob()]);
    const id = queued!.job.id;

    // A client that sends its request and never reads a byte of the answer.
    const socket: Socket = connect(api.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => undefined);
    cleanups.push(async () => void socket.destroy());
    socket.write(`GET /api/jobs/${id}/logs?follow=true HTTP/1.1\r\nHost: x\r\n\r\n`);
    await vi.waitFor(() => expect(api.raws).toHaveLength(1));
    const raw = api.raws[0]!;
    // The client never reads, so it would not see the end: watch the server's side.
    let closed = false;
    raw.once('close', () => (closed = true));

    // The job writes 16 MiB, far more than the kernel's socket buffers take.
    const chunk = 'x'.repeat(64 * 1024);
    let maxBuffered = 0;
    for (let i = 0; i < 256 && !closed; i++) {
      await store.appendLogs([{ jobId: id, attempt: 1, stream: 'stdout', data: chunk }]);
      await new Promise((r) => setImmediate(r));
      maxBuffered = Math.max(maxBuffered, raw.writableLength);
    }
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes + chunk.length);
    // The server gives up on it and closes the connection (the job is still running).
    await vi.waitFor(() => expect(closed).toBe(true), { timeout: 15_000, interval: 20 });
    expect((await store.getJob(id))!.state).toBe('queued');
  });
});

describe('GET /api/jobs/:id/logs on a job with much output', () => {
  it('answers a page at a time with lastSeq and more, and a follower reads every page', async () => {
    const store = await openStore('sqlite::memory:', { logTailBytes: 4 * 1024 * 1024 });
    cleanups.push(() => store.close());
    const api = await logsApi(store, { checkMs: 50 });
    const [queued] = await store.enqueue([newJob()]);
    const id = queued!.job.id;
    const written = Array.from({ length: 2500 }, (_, i) => `${i}\n`);
    await store.appendLogs(written.map((data) => ({ jobId: id, attempt: 1, stream: 'stdout' as const, data })));

    const pages: { chunks: { data: string; seq: number }[]; lastSeq: number | null; more: boolean }[] = [];
    let after = 0;
    for (;;) {
      const page = (await (
        await fetch(`${api.url}/api/jobs/${id}/logs?format=json&after=${after}`)
      ).json()) as (typeof pages)[number];
      pages.push(page);
      if (!page.more) break;
      after = page.lastSeq!;
    }
    expect(pages.map((p) => [p.chunks.length, p.more])).toEqual([
      [1000, true],
      [1000, true],
      [500, false],
    ]);
    expect(pages.flatMap((p) => p.chunks.map((c) => c.data))).toEqual(written);

    const text = await fetch(`${api.url}/api/jobs/${id}/logs`);
    expect(text.headers.get('x-baton-more')).toBe('true');
    expect(await text.text()).toBe(written.slice(0, 1000).join(''));
    const lastSeq = Number(text.headers.get('x-baton-last-seq'));
    expect(pages[0]!.lastSeq).toBe(lastSeq);

    // A follower of the (now finished) job gets every chunk, across pages, then the end.
    await store.cancel(id);
    const followed = await (await fetch(`${api.url}/api/jobs/${id}/logs?follow=true`)).text();
    expect(followed).toBe(written.join(''));
  });
});
