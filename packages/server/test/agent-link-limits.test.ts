import { afterEach, describe, expect, it } from 'vitest';
import { Agent, WsLink, defineTask, demoTasks } from '@baton/agent';
import { MAX_FRAME_MESSAGES, MAX_ITEMS_PER_MESSAGE, MAX_LOG_CHUNK_CHARS, MAX_RESULT_BYTES } from '@baton/core';
import type { Harness } from './harness.js';
import { ADMIN, isFinal, startHarness } from './harness.js';
import { TEST_AGENT_TOKEN } from './agent-wire-client.js';
import { nested } from './agent-poison-fixture.js';

/** Writes `total` bytes of output in `writes` synchronous calls, then returns. */
const flood = defineTask('test.flood', async (payload: { total: number; writes: number }, ctx) => {
  const piece = 'o'.repeat(payload.total / payload.writes);
  for (let i = 0; i < payload.writes; i++) ctx.output('stdout', piece);
  return { wrote: payload.total };
});
/** Returns `{ blob }` of `bytes` characters, or a value nested `depth` deep. */
const returns = defineTask('test.returns', async (payload: { bytes?: number; depth?: number }) =>
  payload.depth ? nested(payload.depth) : { blob: 'r'.repeat(payload.bytes ?? 0) },
);
const tasks = [...demoTasks, flood, returns];
/** How much of the flood reached the log (the marker's own words hold single o's only). */
const outputBytes = (logs: string) => (logs.match(/oo+/g) ?? []).join('').length;

describe('what an agent buffers and sends', () => {
  let h: Harness;
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await h?.close();
  });
  const start = async (agent: Agent) => {
    stops.push(() => agent.stop(1000));
    await agent.start();
    return agent;
  };
  const remoteAgent = (options: Partial<ConstructorParameters<typeof Agent>[0]> = {}) =>
    start(new Agent({ link: new WsLink({ serverUrl: h.url, token: TEST_AGENT_TOKEN }), tasks, ...options }));
  const run = async (task: string, payload: unknown) => {
    const { body } = await h.post('/api/jobs', { task, payload });
    return h.waitFor(body.id, isFinal);
  };
  const logsOf = async (id: string) => (await fetch(`${h.url}/api/jobs/${id}/logs`, { headers: ADMIN })).text();

  it('keeps at most maxOutputBytesPerJob of a job waiting, and marks what it dropped', async () => {
    h = await startHarness({ agents: 0 });
    await h.store.registerTasks(tasks.map((t) => ({ task: t.name, queue: t.queue })));
    await start(new Agent({ link: h.server.localLink(), tasks, maxOutputBytesPerJob: 64 * 1024 }));
    const job = await run('test.flood', { total: 200 * 1024, writes: 8 });
    expect(job.state).toBe('succeeded');
    const logs = await logsOf(job.id);
    expect(outputBytes(logs)).toBe(64 * 1024);
    expect(logs).toContain(`[baton: ${136 * 1024} bytes of output dropped]`);
  });

  it('keeps at most maxOutputBytes of all jobs waiting, and marks what it dropped', async () => {
    h = await startHarness({ agents: 0 });
    await h.store.registerTasks(tasks.map((t) => ({ task: t.name, queue: t.queue })));
    await start(new Agent({ link: h.server.localLink(), tasks, maxOutputBytes: 10_000 }));
    const job = await run('test.flood', { total: 40_000, writes: 4 });
    const logs = await logsOf(job.id);
    expect(outputBytes(logs)).toBe(10_000);
    expect(logs).toContain('[baton: 30000 bytes of output dropped]');
  });

  it('fails a job whose result is over the limit before sending it (RESULT_TOO_LARGE)', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    await remoteAgent();
    // Larger than a frame: only the agent's own check can name the result limit.
    const job = await run('test.returns', { bytes: 9 * 1024 * 1024 });
    expect(job).toMatchObject({ state: 'failed', attempts: 1, result: null });
    expect(job.error).toMatchObject({ code: 'RESULT_TOO_LARGE', retryable: false });
    expect(job.error.message).toContain(`more than the ${MAX_RESULT_BYTES}-byte limit`);
  });

  it('fails a job whose result cannot be encoded for the wire (RESULT_UNENCODABLE); the agent lives on', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const agent = await remoteAgent();
    // Fine as JSON, too deep for msgpack's encoder.
    const job = await run('test.returns', { depth: 3000 });
    expect(job).toMatchObject({ state: 'failed', attempts: 1 });
    expect(job.error).toMatchObject({ code: 'RESULT_UNENCODABLE', retryable: false });
    expect(job.error.message).toMatch(/^the job's result cannot be sent to the server: .*nested too deeply/);
    expect(agent.state).toBe('running');
    expect(await run('demo.echo', { after: 'poison' })).toMatchObject({ state: 'succeeded' });
  });

  it('splits its output across frames within the server limits', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    await remoteAgent({ concurrency: 12, outputFlushMs: 500 });
    // 12 jobs × 1 MiB of output flushed together: more than one frame may carry.
    const ids = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const { body } = await h.post('/api/jobs', { task: 'test.flood', payload: { total: 1024 * 1024, writes: 1 } });
        return body.id as string;
      }),
    );
    for (const id of ids) {
      const job = await h.waitFor(id, isFinal);
      expect(job.state).toBe('succeeded');
      const logs = await logsOf(id);
      expect(logs.length).toBeGreaterThanOrEqual(MAX_LOG_CHUNK_CHARS);
      expect(logs).not.toContain('dropped');
    }
  });

  it(`splits a request listing more than ${MAX_ITEMS_PER_MESSAGE} entries; the answers come back in order`, async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const link = new WsLink({ serverUrl: h.url, token: TEST_AGENT_TOKEN });
    await start(new Agent({ link, tasks }));
    const items = Array.from({ length: 2 * MAX_ITEMS_PER_MESSAGE + 1 }, (_, i) => ({
      jobId: `01NOJOB${i}`,
      leaseToken: 'l',
    }));
    const results = await link.heartbeat(items);
    expect(results.map((r) => r.jobId)).toEqual(items.map((i) => i.jobId));
    expect(results.every((r) => !r.ok && r.code === 'NOT_FOUND')).toBe(true);
  });

  it(`sends more than ${MAX_FRAME_MESSAGES} requests made in one turn in several frames`, async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const link = new WsLink({ serverUrl: h.url, token: TEST_AGENT_TOKEN });
    const agent = await start(new Agent({ link, tasks }));
    const replies = await Promise.all(Array.from({ length: 2500 }, () => link.heartbeat([])));
    expect(replies).toEqual(Array.from({ length: 2500 }, () => []));
    expect(link.state).toBe('open');
    expect(agent.state).toBe('running');
  });
});
