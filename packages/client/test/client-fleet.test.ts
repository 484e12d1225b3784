import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, defineTask } from '@baton/agent';
import type { LogChunkView } from '@baton/client';
import { BatonApiError, BatonClient } from '@baton/client';
import type { Harness } from '../../server/test/harness.js';
import { startHarness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';

/** Gates a test opens and releases by key, so a job can be held mid-run. */
const gates = new Map<string, { promise: Promise<void>; release: () => void }>();
function openGate(key: string): () => void {
  let release: () => void = () => {};
  const promise = new Promise<void>((r) => (release = r));
  gates.set(key, { promise, release });
  return release;
}

/** Writes a line, waits at its gate (if one is open), then writes the rest. */
const chatty = defineTask('test.chatty', async (payload: { key: string }, ctx) => {
  ctx.output('stdout', 'one\n');
  await gates.get(payload.key)?.promise;
  ctx.output('stdout', 'two\n');
  ctx.output('stderr', 'oops\n');
  ctx.output('stdout', 'three ✓\n');
  return { done: true };
});

/** Holds its GPU until its gate opens. */
const gpuTask = defineTask('test.gpu', async (payload: { key: string }) => {
  await gates.get(payload.key)?.promise;
  return { ok: true };
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('BatonClient: resources, agents, capacity, logs', () => {
  let h: Harness;
  let baton: BatonClient;
  let gpuAgent: Agent;

  /** Polls `read` until `done` holds on its answer. */
  async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`never reached; last: ${JSON.stringify(value)}`);
      await sleep(20);
    }
  }

  beforeAll(async () => {
    // An idle in-process agent sends no heartbeats, so the server would declare it dead after
    // agentTimeoutMs (the lease, 10 s): keep the fleet for the whole file.
    h = await startHarness({ agents: 0, agentTimeoutMs: 600_000 });
    await h.addAgent({ concurrency: 3, tasks: [chatty] });
    gpuAgent = new Agent({
      link: h.server.localLink(),
      tasks: [gpuTask],
      concurrency: 2,
      name: 'gpu-box',
      pool: 'gpu',
      tags: ['region:test', 'nvlink'],
      gpus: [
        { index: 0, uuid: 'GPU-aaaa', name: 'Test GPU', memoryMb: 16_000, healthy: true },
        { index: 1, uuid: 'GPU-bbbb', name: 'Test GPU', memoryMb: 16_000, healthy: true },
      ],
    });
    await gpuAgent.start();
    baton = new BatonClient({ baseUrl: h.url, token: TEST_ADMIN_TOKEN });
  });
  afterAll(async () => {
    for (const gate of gates.values()) gate.release();
    await gpuAgent.stop(1000);
    await h.close();
  });

  it('submits resources and constraints, and reads them back', async () => {
    const { id } = await baton.submit(
      'demo.echo',
      { x: 1 },
      {
        resources: { slots: 2, cpu: 0.5, memoryMb: 256 },
        constraints: { tags: ['region:test'] },
        delayMs: 60_000,
      },
    );
    const job = await baton.getJob(id);
    expect(job.resources).toEqual({ slots: 2, cpu: 0.5, memoryMb: 256, gpus: 0 });
    expect(job.constraints).toEqual({ tags: ['region:test'] });
    expect(job.gpus).toEqual([]);
    expect(job.pendingReason).toBeNull(); // delayed, not queued
    await baton.cancel(id);

    const plain = await baton.getJob((await baton.submit('demo.echo', {}, { delayMs: 60_000 })).id);
    expect(plain.resources).toEqual({ slots: 1, cpu: 0, memoryMb: 0, gpus: 0 });
    expect(plain.constraints).toEqual({ tags: [] });
    await baton.cancel(plain.id);

    const bad = await baton.submit('demo.echo', {}, { resources: { gpus: -1 } }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BatonApiError);
    expect(bad).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((bad as Error).message).toMatch(/gpus/);
  });

  it('says why a job waits for a tag no agent has', async () => {
    const { id, state } = await baton.submit('demo.echo', {}, { constraints: { tags: ['zone:nowhere'] } });
    expect(state).toBe('queued');
    const job = await until(
      () => baton.getJob(id),
      (j) => j.pendingReason?.code === 'NO_AGENT_WITH_TAGS',
    );
    expect(job.state).toBe('queued');
    expect(job.pendingReason?.message).toEqual(expect.any(String));
    await baton.cancel(id);
    expect((await baton.getJob(id)).pendingReason).toBeNull();
  });

  it('lists the agents with their slots, tags and GPUs', async () => {
    const agents = await baton.agents();
    expect(agents).toHaveLength(2);
    const cpu = agents.find((a) => a.pool === 'default');
    expect(cpu).toMatchObject({ state: 'connected', slots: 3, used: 0, gpus: [], jobs: [], tags: [] });
    expect(cpu?.tasks).toContain('test.chatty');
    expect(cpu?.queues).toEqual(['default']);
    const gpu = agents.find((a) => a.name === 'gpu-box');
    expect(gpu).toMatchObject({
      pool: 'gpu',
      state: 'connected',
      slots: 2,
      used: 0,
      cpu: null,
      memoryMb: null,
      tags: ['region:test', 'nvlink'],
      tasks: ['test.gpu'],
      disconnectedAt: null,
    });
    expect(gpu?.gpus).toEqual([
      { index: 0, uuid: 'GPU-aaaa', name: 'Test GPU', memoryMb: 16_000, healthy: true, jobId: null },
      { index: 1, uuid: 'GPU-bbbb', name: 'Test GPU', memoryMb: 16_000, healthy: true, jobId: null },
    ]);
    expect(Date.parse(gpu?.connectedAt ?? '')).not.toBeNaN();
  });

  it('reports capacity per pool, and its use while jobs run', async () => {
    expect(await baton.capacity()).toEqual({
      slots: [
        { name: 'default', capacity: 3, target: expect.any(Number), used: 0, available: 3, holders: 0 },
        { name: 'gpu', capacity: 2, target: expect.any(Number), used: 0, available: 2, holders: 0 },
      ],
      totals: { capacity: 5, used: 0, available: 5 },
      gpus: { total: 2, used: 0, available: 2, unhealthy: 0 },
    });
    // `target` is a placeholder until autoscaling (docs/api.md): a slot count, nothing more yet.
    for (const pool of (await baton.capacity()).slots)
      expect(Number.isInteger(pool.target) && pool.target >= 0).toBe(true);

    const releaseCpu = openGate('cap-cpu');
    const releaseGpu = openGate('cap-gpu');
    const cpuJob = await baton.submit('test.chatty', { key: 'cap-cpu' }, { resources: { slots: 2 } });
    const gpuJob = await baton.submit(
      'test.gpu',
      { key: 'cap-gpu' },
      { resources: { gpus: 1 }, constraints: { tags: ['nvlink'] } },
    );
    const held = await until(
      () => baton.capacity(),
      (c) => c.totals.used === 3 && c.gpus.used === 1,
    );
    expect(held.slots).toEqual([
      { name: 'default', capacity: 3, target: expect.any(Number), used: 2, available: 1, holders: 1 },
      { name: 'gpu', capacity: 2, target: expect.any(Number), used: 1, available: 1, holders: 1 },
    ]);
    expect(held.totals).toEqual({ capacity: 5, used: 3, available: 2 });
    expect(held.gpus).toEqual({ total: 2, used: 1, available: 1, unhealthy: 0 });

    const job = await baton.getJob(gpuJob.id);
    expect(job.gpus).toHaveLength(1);
    const gpu = (await baton.agents()).find((a) => a.name === 'gpu-box');
    expect(gpu?.jobs).toEqual([gpuJob.id]);
    expect(gpu?.gpus.find((g) => g.index === job.gpus[0])?.jobId).toBe(gpuJob.id);
    expect(gpu?.gpus.filter((g) => g.jobId === null)).toHaveLength(1);

    releaseCpu();
    releaseGpu();
    await baton.waitForJob(cpuJob.id, { pollMs: 20 });
    expect((await baton.waitForJob(gpuJob.id, { pollMs: 20 })).gpus).toEqual(job.gpus); // the last assignment's
    const after = await until(
      () => baton.capacity(),
      (c) => c.totals.used === 0,
    );
    expect(after.gpus).toEqual({ total: 2, used: 0, available: 2, unhealthy: 0 });
  });

  it("reads a finished job's output as chunks, in order, by stream and after a seq", async () => {
    const { id } = await baton.submit('test.chatty', { key: 'none' });
    await baton.waitForJob(id, { pollMs: 20 });
    const all = await baton.logs(id);
    expect(all.chunks.map((c) => [c.stream, c.data])).toEqual([
      ['stdout', 'one\n'],
      ['stdout', 'two\n'],
      ['stderr', 'oops\n'],
      ['stdout', 'three ✓\n'],
    ]);
    expect(all.chunks.every((c) => c.jobId === id && c.attempt === 1 && typeof c.at === 'number')).toBe(true);
    const seqs = all.chunks.map((c) => c.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(4);
    expect(all.lastSeq).toBe(seqs[3]);

    const stderr = await baton.logs(id, { stream: 'stderr' });
    expect(stderr.chunks.map((c) => c.data)).toEqual(['oops\n']);
    expect(stderr.lastSeq).toBe(seqs[3]); // the cursor covers chunks filtered out
    const later = await baton.logs(id, { after: seqs[1]! });
    expect(later.chunks.map((c) => c.data)).toEqual(['oops\n', 'three ✓\n']);
    expect(await baton.logs(id, { after: seqs[3]! })).toEqual({ chunks: [], lastSeq: seqs[3], more: false });
  });

  it('follows output while the job runs and ends when it finishes', async () => {
    const release = openGate('follow');
    const { id } = await baton.submit('test.chatty', { key: 'follow' });
    await until(
      () => baton.logs(id),
      (l) => l.chunks.length === 1,
    );
    const seen: LogChunkView[] = [];
    const following = baton.followLogs(id, {
      onChunk: (c) => {
        seen.push(c);
        // Only once the kept output arrived is the rest written.
        if (seen.length === 1) release();
      },
    });
    const lastSeq = await following;
    expect(seen.map((c) => c.data)).toEqual(['one\n', 'two\n', 'oops\n', 'three ✓\n']);
    expect(lastSeq).toBe(seen[3]?.seq);
    expect((await baton.getJob(id)).state).toBe('succeeded');

    // A stream filter and a starting seq apply to the follow as to a read.
    const stdout: string[] = [];
    await baton.followLogs(id, { stream: 'stdout', after: seen[0]!.seq, onChunk: (c) => stdout.push(c.data) });
    expect(stdout).toEqual(['two\n', 'three ✓\n']);
  });

  it('follows a job that has written nothing yet', async () => {
    const release = openGate('quiet');
    const { id } = await baton.submit('test.gpu', { key: 'quiet' }, { resources: { gpus: 1 } });
    await until(
      () => baton.getJob(id),
      (j) => j.state === 'running',
    );
    const chunks: LogChunkView[] = [];
    const following = baton.followLogs(id, { onChunk: (c) => chunks.push(c) });
    release();
    expect(await following).toBeNull();
    expect(chunks).toEqual([]);
  });

  it('streams as an async iterator; leaving early or aborting stops the follow', async () => {
    const release = openGate('iter');
    const { id } = await baton.submit('test.chatty', { key: 'iter' });
    const first: string[] = [];
    for await (const chunk of baton.streamLogs(id)) {
      first.push(chunk.data);
      break;
    }
    expect(first).toEqual(['one\n']);

    const controller = new AbortController();
    const err = await baton
      .followLogs(id, { signal: controller.signal, onChunk: () => controller.abort(new Error('enough')) })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ message: 'enough' });
    release();
    await baton.waitForJob(id, { pollMs: 20 });
  });

  it('raises JOB_NOT_FOUND, INVALID_JOB_ID and UNREACHABLE for logs', async () => {
    const missing = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
    for (const call of [() => baton.logs(missing), () => baton.followLogs(missing)]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BatonApiError);
      expect(err).toMatchObject({ status: 404, code: 'JOB_NOT_FOUND' });
    }
    expect(await baton.logs('nope').catch((e: unknown) => e)).toMatchObject({ status: 400, code: 'INVALID_JOB_ID' });
    const nowhere = new BatonClient({ baseUrl: 'http://127.0.0.1:1', requestTimeoutMs: 2000 });
    expect(await nowhere.followLogs(missing).catch((e: unknown) => e)).toMatchObject({
      status: 0,
      code: 'UNREACHABLE',
    });
    expect(await nowhere.agents().catch((e: unknown) => e)).toMatchObject({ status: 0, code: 'UNREACHABLE' });
  });
});

describe('BatonClient.followLogs reading NDJSON', () => {
  it('joins lines and characters split across network chunks', async () => {
    const line = (seq: number, data: string) =>
      JSON.stringify({ jobId: 'J', attempt: 1, stream: 'stdout', data, seq, at: 0 }) + '\n';
    const body = Buffer.from(line(1, 'héllo\n') + line(2, '✓ done\n') + line(3, 'no newline at the end').trimEnd());
    const cut = body.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (!req.url?.includes('follow=true')) return res.end(JSON.stringify({ chunks: [], lastSeq: null }));
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const pieces = [body.subarray(0, 10), body.subarray(10, cut), body.subarray(cut)];
      const next = () => {
        const piece = pieces.shift();
        if (!piece) return res.end();
        res.write(piece);
        setTimeout(next, 20);
      };
      next();
    });
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
    try {
      const client = new BatonClient({ baseUrl: `http://127.0.0.1:${port}` });
      const data: string[] = [];
      expect(await client.followLogs('J', { onChunk: (c) => data.push(c.data) })).toBe(3);
      expect(data).toEqual(['héllo\n', '✓ done\n', 'no newline at the end']);
    } finally {
      server.close();
    }
  });
});
