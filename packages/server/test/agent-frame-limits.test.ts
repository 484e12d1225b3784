import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import {
  MAX_AGENT_FRAME_BYTES,
  MAX_FRAME_MESSAGES,
  MAX_FRAME_VALUES,
  MAX_ITEMS_PER_MESSAGE,
  MAX_LOG_CHUNK_CHARS,
  MAX_RESULT_BYTES,
  encodeFrame,
} from '@baton/core';
import { demoTasks } from '@baton/agent';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import { TEST_AGENT_TOKEN, WireAgent } from './agent-wire-client.js';

/** A real server whose warnings the test can read. */
async function start(): Promise<{ url: string; store: Store; server: BatonServer; logs: string[] }> {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const store = await openStore('sqlite::memory:');
  await store.registerTasks(demoTasks.map((t) => ({ task: t.name, queue: t.queue })));
  const server = createBatonServer(store, {
    insecureNoAuth: true,
    agentToken: TEST_AGENT_TOKEN,
    maxSweepMs: 200,
    logger: pino(stream),
  });
  return { url: await server.listen(0), store, server, logs };
}

describe('what one agent connection may cost the server', () => {
  let s: Awaited<ReturnType<typeof start>> | undefined;
  const sockets: WireAgent[] = [];
  afterEach(async () => {
    for (const w of sockets.splice(0)) w.close();
    await s?.server.close();
    await s?.store.close();
    s = undefined;
  });
  const connect = async () => {
    const agent = await WireAgent.connect(s!.url);
    sockets.push(agent);
    return agent;
  };
  const logChunk = (jobId: string, chars: number) => ({ jobId, attempt: 1, stream: 'stdout', data: 'x'.repeat(chars) });
  const get = (path: string) => fetch(s!.url + path).then((r) => r.json() as Promise<any>);
  const submit = (body: unknown) =>
    fetch(s!.url + '/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<any>);

  it(`closes the connection (1009) on a frame over ${MAX_AGENT_FRAME_BYTES} bytes`, async () => {
    s = await start();
    const agent = await connect();
    await agent.register();
    // Just under the limit is taken: log chunks at their own limit, for a job the agent does not hold.
    const fits = Math.floor((MAX_AGENT_FRAME_BYTES - 4096) / MAX_LOG_CHUNK_CHARS);
    const chunks = Array.from({ length: fits }, () => logChunk('01NOTHELD', MAX_LOG_CHUNK_CHARS));
    expect(await agent.request({ t: 'logs', chunks } as never)).toMatchObject({ ok: true });
    // One frame over it is not even read.
    const over = [{ t: 'logs', id: 99, chunks: [...chunks, ...chunks] }];
    agent.ws.send(encodeFrame(over as never));
    expect((await agent.closed).code).toBe(1009);
  });

  it(`cuts off (1008) an agent sending more than ${MAX_FRAME_MESSAGES} messages in one frame`, async () => {
    s = await start();
    const agent = await connect();
    await agent.register();
    const frame = (n: number, first: number) =>
      encodeFrame(Array.from({ length: n }, (_, i) => ({ t: 'heartbeat', id: first + i, items: [] })) as never);
    agent.ws.send(frame(MAX_FRAME_MESSAGES, 100));
    await agent.waitFor((m) => m.t === 'reply' && m.id === 100 + MAX_FRAME_MESSAGES - 1);
    const answered = agent.received.length;
    agent.ws.send(frame(MAX_FRAME_MESSAGES + 1, 5000));
    const closed = await agent.closed;
    expect(closed).toEqual({
      code: 1008,
      reason: `frame of ${MAX_FRAME_MESSAGES + 1} messages; the limit is ${MAX_FRAME_MESSAGES}`,
    });
    expect(agent.received.length).toBe(answered); // none of that frame was handled
    expect(s.logs.join('')).toContain('agent cut off');
  });

  it(`cuts off (1008) an agent whose frame holds more than ${MAX_FRAME_VALUES} values, before decoding it`, async () => {
    s = await start();
    const agent = await connect();
    await agent.register();
    // One byte a value: about 1 MiB, well under the byte limit, but a million allocations to decode.
    const items = new Array(MAX_FRAME_VALUES).fill(0);
    agent.ws.send(encodeFrame([{ t: 'heartbeat', id: 50, items }] as never));
    expect(await agent.closed).toEqual({ code: 1008, reason: `frame of more than ${MAX_FRAME_VALUES} values` });
    expect(agent.received.some((m) => m.id === 50)).toBe(false);
  });

  it('cuts off (1008) an agent after a burst of invalid messages, answering at most 100', async () => {
    s = await start();
    const agent = await connect();
    await agent.register();
    const invalid = Array.from({ length: 500 }, (_, i) => ({ t: 'bogus', id: 10 + i }));
    agent.ws.send(encodeFrame(invalid as never));
    const closed = await agent.closed;
    expect(closed).toEqual({ code: 1008, reason: 'more than 100 invalid messages within 60 s' });
    const errors = agent.received.filter((m) => m.t === 'reply' && m.error?.code === 'INVALID_AGENT_MESSAGE');
    expect(errors.length).toBeLessThanOrEqual(100);
    expect(s.logs.join('')).toMatch(/"why":"more than 100 invalid messages within 60 s".*"msg":"agent cut off"/);
  });

  it('answers a few invalid messages with INVALID_AGENT_MESSAGE and keeps the connection', async () => {
    s = await start();
    const agent = await connect();
    await agent.register();
    const reply = await agent.request({ t: 'logs', chunks: [logChunk('01NOTHELD', MAX_LOG_CHUNK_CHARS + 1)] } as never);
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_AGENT_MESSAGE' } });
    expect(reply.error.message).toContain(String(MAX_LOG_CHUNK_CHARS));
    expect(await agent.request({ t: 'heartbeat', items: [] })).toMatchObject({ ok: true });
  });

  it(`refuses a list of more than ${MAX_ITEMS_PER_MESSAGE} entries before validating it`, async () => {
    s = await start();
    const agent = await connect();
    await agent.register();
    const items = (n: number, jobId: unknown = '01NOTHELD') =>
      Array.from({ length: n }, () => ({ jobId, leaseToken: 'l' }));
    const fits = await agent.request({ t: 'heartbeat', items: items(MAX_ITEMS_PER_MESSAGE) } as never);
    expect(fits).toMatchObject({ ok: true });
    expect(fits.result).toHaveLength(MAX_ITEMS_PER_MESSAGE);
    const over = await agent.request({ t: 'heartbeat', items: items(5000, 5) } as never);
    expect(over).toEqual({
      t: 'reply',
      id: over.id,
      ok: false,
      error: {
        code: 'INVALID_AGENT_MESSAGE',
        message: `items holds 5000 entries; the limit is ${MAX_ITEMS_PER_MESSAGE}`,
      },
    });
  });

  it('refuses a registration speaking another protocol version (PROTOCOL_MISMATCH)', async () => {
    s = await start();
    const agent = await connect();
    const reply = await agent.request({
      t: 'register',
      protocol: 1,
      registration: { queues: ['default'], tasks: [], slots: 1 },
    });
    expect(reply).toMatchObject({ ok: false, error: { code: 'PROTOCOL_MISMATCH' } });
    expect(reply.error.message).toContain('run the same Baton version');
  });

  it('keeps no output for a job the agent does not hold', async () => {
    s = await start();
    const holder = await connect();
    await holder.register({ slots: 1 });
    const job = await submit({ task: 'demo.echo', payload: {} });
    await holder.assignment(job.id);
    const stranger = await connect();
    await stranger.register({ name: 'stranger' });
    const reply = await stranger.request({ t: 'logs', chunks: [logChunk(job.id, 100)] } as never);
    expect(reply).toMatchObject({ ok: true });
    const logs = await fetch(`${s.url}/api/jobs/${job.id}/logs`).then((r) => r.text());
    expect(logs).not.toContain('xxxx');
  });

  it('fails a job whose result is over the limit instead of storing it (RESULT_TOO_LARGE)', async () => {
    s = await start();
    const agent = await connect();
    await agent.register();
    const job = await submit({ task: 'demo.echo', payload: {} });
    const a = await agent.assignment(job.id);
    const result = { blob: 'y'.repeat(MAX_RESULT_BYTES) };
    const reply = await agent.request({
      t: 'complete',
      items: [{ jobId: job.id, leaseToken: a.leaseToken, outcome: 'succeeded', result }],
    });
    expect(reply).toMatchObject({ ok: true, result: [{ ok: true, state: 'failed' }] });
    const stored = await get(`/api/jobs/${job.id}`);
    expect(stored).toMatchObject({
      state: 'failed',
      result: null,
      error: { code: 'RESULT_TOO_LARGE', retryable: false },
    });
    expect(stored.error.message).toContain(`${MAX_RESULT_BYTES}-byte limit`);
  });

  it('fails a job whose result cannot be stored as JSON (RESULT_UNENCODABLE), not the batch', async () => {
    s = await start();
    const agent = await connect();
    await agent.register();
    const jobs = [await submit({ task: 'demo.echo', payload: {} }), await submit({ task: 'demo.echo', payload: {} })];
    const token = (id: string) => agent.assignments().find((x) => x.job.id === id)!.leaseToken;
    for (const job of jobs) await agent.assignment(job.id);
    // msgpack carries 64-bit integers that JSON cannot.
    const reply = await agent.request({
      t: 'complete',
      items: [
        { jobId: jobs[0].id, leaseToken: token(jobs[0].id), outcome: 'succeeded', result: { n: 2n ** 63n } },
        { jobId: jobs[1].id, leaseToken: token(jobs[1].id), outcome: 'succeeded', result: { n: 1 } },
      ],
    });
    expect(reply).toMatchObject({ ok: true, result: [{ state: 'failed' }, { state: 'succeeded' }] });
    const stored = await get(`/api/jobs/${jobs[0].id}`);
    expect(stored.error).toMatchObject({ code: 'RESULT_UNENCODABLE', retryable: false });
  });
});
