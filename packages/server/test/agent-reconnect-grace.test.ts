import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { demoTasks } from '@baton/agent';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer, resolveServerOptions } from '@baton/server';
import type { BatonServer, ServerOptions } from '@baton/server';
import { TEST_AGENT_TOKEN, WireAgent } from './agent-wire-client.js';

/** A lease far longer than any test here: a job that moves did not wait for it. */
const LONG_LEASE = { leaseMs: 60_000, heartbeatMs: 1000 };
const GRACE_MS = 300;

interface Running {
  url: string;
  server: BatonServer;
  /** The server's log lines, parsed. */
  logs: Record<string, any>[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * What happens to the jobs of an agent whose connection closes: released at once after the
 * reconnect grace (`AGENT_LOST`), kept when the agent is back in time (on the same server or
 * another of the fleet), left to their leases when the agent only falls silent.
 */
describe('reconnect grace', () => {
  let store: Store | undefined;
  const servers: BatonServer[] = [];
  const sockets: WireAgent[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    for (const s of servers.splice(0)) await s.close();
    await store?.close();
    store = undefined;
  });

  const openFleetStore = async (): Promise<Store> => {
    store = await openStore('sqlite::memory:');
    await store.registerTasks(demoTasks.map((t) => ({ task: t.name, queue: t.queue })));
    return store;
  };
  /** A server on the test's store (several make a fleet), logging at info level for the test to read. */
  const start = async (options: ServerOptions): Promise<Running> => {
    const logs: Record<string, any>[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
        done();
      },
    });
    const s = store ?? (await openFleetStore());
    const server = createBatonServer(s, {
      insecureNoAuth: true,
      agentToken: TEST_AGENT_TOKEN,
      maxSweepMs: 200,
      logger: pino({ level: 'info' }, stream),
      ...options,
    });
    servers.push(server);
    return { url: await server.listen(0), server, logs };
  };
  const connect = async (url: string) => {
    const agent = await WireAgent.connect(url);
    sockets.push(agent);
    return agent;
  };
  const submit = async (url: string): Promise<string> => {
    const r = await fetch(`${url}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'demo.echo', payload: {} }),
    });
    return ((await r.json()) as { id: string }).id;
  };
  const lostLine = (r: Running) => r.logs.find((l) => String(l.msg).includes('declared lost'));

  it('releases the jobs of an agent not back within the grace at once: AGENT_LOST, attempt counted', async () => {
    const a = await start({ ...LONG_LEASE, reconnectGraceMs: GRACE_MS });
    const agent = await connect(a.url);
    const { result: registered } = await agent.register();
    const jobId = await submit(a.url);
    const held = await agent.assignment(jobId);
    expect(await agent.request({ t: 'started', items: [{ jobId, leaseToken: held.leaseToken }] })).toMatchObject({
      ok: true,
    });
    agent.close();

    const attempts = await until('the job released', async () => {
      const list = await store!.getAttempts(jobId);
      return list[0]?.outcome ? list : undefined;
    });
    // Released by the grace, 60 s before its lease would have run out.
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      attempt: 1,
      agentId: registered.agentId,
      outcome: 'failed',
      error: { code: 'AGENT_LOST', retryable: true },
    });
    const job = await store!.getJob(jobId);
    expect(job).toMatchObject({ state: 'queued', attempts: 1 });
    expect(lostLine(a)).toMatchObject({ agentId: registered.agentId, released: [jobId], renewedElsewhere: [] });
    expect(((await fetch(`${a.url}/api/agents`).then((r) => r.json())) as any).agents).toHaveLength(0);

    // Back too late: the agent is told to abort the job, whose lease is no longer its own.
    const late = await connect(a.url);
    const resumed = await late.register({
      resume: {
        agentId: registered.agentId,
        secret: registered.resumeSecret,
        jobs: [{ jobId, leaseToken: held.leaseToken, resources: held.job.resources, gpus: [] }],
      },
    });
    expect(resumed).toMatchObject({ ok: true, result: { abort: [jobId] } });
  });

  it('an agent back within the grace keeps its session and its jobs: each runs once', async () => {
    const a = await start({ ...LONG_LEASE, reconnectGraceMs: GRACE_MS });
    const before = await connect(a.url);
    const { result: registered } = await before.register();
    const jobId = await submit(a.url);
    const held = await before.assignment(jobId);
    before.close();
    await until('the server to see the connection close', async () =>
      a.logs.some((l) => l.msg === 'agent disconnected'),
    );

    const after = await connect(a.url);
    const resumed = await after.register({
      resume: {
        agentId: registered.agentId,
        secret: registered.resumeSecret,
        jobs: [{ jobId, leaseToken: held.leaseToken, resources: held.job.resources, gpus: [] }],
      },
    });
    expect(resumed.ok).toBe(true);
    expect(resumed.result.abort).toBeUndefined();
    await sleep(GRACE_MS * 3); // the grace has long passed: nothing may have been released
    expect(lostLine(a)).toBeUndefined();
    const lease = { jobId, leaseToken: held.leaseToken };
    expect(await after.request({ t: 'heartbeat', items: [lease] })).toMatchObject({ ok: true, result: [{ ok: true }] });
    expect(
      await after.request({ t: 'complete', items: [{ ...lease, outcome: 'succeeded', result: { once: true } }] }),
    ).toMatchObject({ ok: true, result: [{ ok: true, state: 'succeeded' }] });
    expect(await store!.getJob(jobId)).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(await store!.getAttempts(jobId)).toHaveLength(1);
  });

  it('an agent back on another server of the fleet within the grace keeps its jobs: the first server releases none', async () => {
    const a = await start({ ...LONG_LEASE, reconnectGraceMs: GRACE_MS });
    const b = await start({ ...LONG_LEASE, reconnectGraceMs: GRACE_MS });
    const before = await connect(a.url);
    const { result: registered } = await before.register();
    const jobId = await submit(a.url);
    const held = await before.assignment(jobId);
    before.close();
    await sleep(50); // an agent waits before reconnecting (100 ms at first)

    // Same id, same lease token: only the lease's renewal on the other server tells them apart.
    const after = await connect(b.url);
    const resumed = await after.register({
      resume: {
        agentId: registered.agentId,
        secret: registered.resumeSecret,
        jobs: [{ jobId, leaseToken: held.leaseToken, resources: held.job.resources, gpus: [] }],
      },
    });
    expect(resumed.ok).toBe(true);
    expect(resumed.result.abort).toBeUndefined();

    const lost = await until('the first server to give the agent up', async () => lostLine(a));
    expect(lost).toMatchObject({ agentId: registered.agentId, released: [], renewedElsewhere: [jobId] });
    expect(await store!.getJob(jobId)).toMatchObject({ state: 'assigned', agentId: registered.agentId, attempts: 1 });
    const lease = { jobId, leaseToken: held.leaseToken };
    expect(
      await after.request({ t: 'complete', items: [{ ...lease, outcome: 'succeeded', result: { once: true } }] }),
    ).toMatchObject({ ok: true, result: [{ ok: true, state: 'succeeded' }] });
    expect(await store!.getAttempts(jobId)).toHaveLength(1);
  });

  it('a silent agent (connection open, nothing arriving) is declared dead but its jobs wait for their leases', async () => {
    const a = await start({ leaseMs: 2000, heartbeatMs: 100, agentTimeoutMs: 400 });
    const agent = await connect(a.url);
    const { result: registered } = await agent.register();
    const jobId = await submit(a.url);
    await agent.assignment(jobId);

    await until('the silent agent declared dead', async () => a.logs.some((l) => /declared dead/.test(l.msg)));
    const job = await store!.getJob(jobId);
    expect(job).toMatchObject({ state: 'assigned', agentId: registered.agentId });
    expect((await store!.getAttempts(jobId))[0]?.outcome).toBeNull();
    const attempts = await until('the lease to run out', async () => {
      const list = await store!.getAttempts(jobId);
      return list[0]?.outcome ? list : undefined;
    });
    expect(attempts[0]).toMatchObject({ outcome: 'lease_expired' });
    expect(lostLine(a)).toBeUndefined();
  });

  it('a server shutting down releases nothing: its agents reconnect elsewhere', async () => {
    const a = await start({ ...LONG_LEASE, reconnectGraceMs: 0 });
    const agent = await connect(a.url);
    await agent.register();
    const jobId = await submit(a.url);
    await agent.assignment(jobId);
    await a.server.close();
    await sleep(100);
    expect(await store!.getJob(jobId)).toMatchObject({ state: 'assigned', attempts: 1 });
    expect(lostLine(a)).toBeUndefined();
  });

  it('resolves reconnectGraceMs: default 3 s, at most agentTimeoutMs, a non-negative integer', () => {
    expect(resolveServerOptions().reconnectGraceMs).toBe(3000);
    expect(resolveServerOptions({ leaseMs: 2000, agentTimeoutMs: 1000 }).reconnectGraceMs).toBe(1000);
    expect(resolveServerOptions({ reconnectGraceMs: 0 }).reconnectGraceMs).toBe(0);
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => resolveServerOptions({ reconnectGraceMs: bad })).toThrow(/reconnectGraceMs must be an integer ≥ 0/);
    }
    expect(() => resolveServerOptions({ leaseMs: 2000, agentTimeoutMs: 2000, reconnectGraceMs: 5000 })).toThrow(
      'reconnectGraceMs (5000) must not be longer than agentTimeoutMs (2000)',
    );
  });
});
