import { afterEach, describe, expect, it } from 'vitest';
import { Agent, WsLink, demoTasks } from '@baton/agent';
import { createBatonServer } from '@baton/server';
import type { Harness } from './harness.js';
import { startHarness } from './harness.js';
import { TEST_AGENT_TOKEN, WireAgent } from './agent-wire-client.js';

describe('agent resume: only the same agent may take its session back', () => {
  let h: Harness;
  const sockets: WireAgent[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await h?.close();
  });
  const connect = async () => {
    const agent = await WireAgent.connect(h.url);
    sockets.push(agent);
    return agent;
  };

  it('issues a random resume secret at registration', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const [a, b] = [await connect(), await connect()];
    const [ra, rb] = [await a.register(), await b.register()];
    expect(ra.ok).toBe(true);
    // 32 random bytes, base64url: 43 characters, different for every session.
    expect(ra.result.resumeSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rb.result.resumeSecret).not.toBe(ra.result.resumeSecret);
    // The secret is never shown in the agents listing.
    const { body } = await h.get('/api/agents');
    expect(JSON.stringify(body)).not.toContain(ra.result.resumeSecret);
  });

  it('refuses a resume with a wrong or missing secret and leaves the live session untouched', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const victim = await connect();
    const registered = await victim.register();
    const victimId: string = registered.result.agentId;
    // The victim holds a job when the attacker strikes.
    const first = await h.post('/api/jobs', { task: 'demo.echo', payload: { n: 1 } });
    const held = await victim.assignment(first.body.id);

    for (const secret of ['x'.repeat(43), undefined]) {
      const attacker = await connect();
      const refused = await attacker.register({
        name: 'attacker',
        resume: { agentId: victimId, jobs: [], ...(secret !== undefined && { secret }) },
      });
      expect(refused).toMatchObject({ ok: false, error: { code: 'RESUME_REFUSED' } });
      expect(refused.error.message).toContain(victimId);
      // Refused means not registered: the attacker's reports are not taken.
      const report = await attacker.request({ t: 'heartbeat', items: [] });
      expect(report).toMatchObject({ ok: false, error: { code: 'AGENT_NOT_REGISTERED' } });
    }

    // The victim keeps its name, state, held job and inbox: new work still reaches it.
    const { body } = await h.get('/api/agents');
    const listed = body.agents.find((a: { id: string }) => a.id === victimId);
    expect(listed).toMatchObject({ state: 'connected' });
    expect(listed.name).not.toBe('attacker');
    const second = await h.post('/api/jobs', { task: 'demo.echo', payload: { n: 2 } });
    const next = await victim.assignment(second.body.id);
    expect(next.leaseToken).toBeTruthy();
    const beat = await victim.request({
      t: 'heartbeat',
      items: [{ jobId: held.job.id, leaseToken: held.leaseToken }],
    });
    expect(beat).toMatchObject({ ok: true, result: [{ ok: true }] });
  });

  it('lets the agent itself resume with its secret, keeping its jobs', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const before = await connect();
    const registered = await before.register();
    const { agentId, resumeSecret } = registered.result;
    const job = await h.post('/api/jobs', { task: 'demo.echo', payload: {} });
    const held = await before.assignment(job.body.id);
    before.close();

    const after = await connect();
    const resumed = await after.register({
      resume: {
        agentId,
        secret: resumeSecret,
        jobs: [{ jobId: held.job.id, leaseToken: held.leaseToken, resources: held.job.resources, gpus: [] }],
      },
    });
    expect(resumed).toMatchObject({ ok: true, result: { agentId, resumeSecret } });
    expect(resumed.result.abort).toBeUndefined();
    const done = await after.request({
      t: 'complete',
      items: [{ jobId: held.job.id, leaseToken: held.leaseToken, outcome: 'succeeded', result: { ok: 1 } }],
    });
    expect(done).toMatchObject({ ok: true, result: [{ ok: true, state: 'succeeded' }] });
  });

  it('a baton agent refused a resume registers anew and keeps working', async () => {
    // Short shard leases: the other server soon schedules the shards of the one that stops.
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN, shardLeaseMs: 500 });
    // A second server of the same fleet (same store), where the agent fails over to.
    const other = createBatonServer(h.store, {
      insecureNoAuth: true,
      agentToken: TEST_AGENT_TOKEN,
      maxSweepMs: 200,
      shardLeaseMs: 500,
    });
    const otherUrl = await other.listen(0);
    const link = new WsLink({ serverUrl: [h.url, otherUrl], token: TEST_AGENT_TOKEN, reconnectMaxMs: 100 });
    const agent = new Agent({ link, tasks: demoTasks });
    try {
      await agent.start();
      const firstId = agent.id!;
      // Someone else took the agent's id on the other server first.
      const squatter = await WireAgent.connect(otherUrl);
      sockets.push(squatter);
      // (Serving no queue the test uses, so the job below can only go to the real agent.)
      const squatted = await squatter.register({
        queues: ['elsewhere'],
        tasks: [{ task: 'test.elsewhere', queue: 'elsewhere' }],
        resume: { agentId: firstId, jobs: [], secret: 's'.repeat(43) },
      });
      expect(squatted.ok).toBe(true);

      await h.server.close(); // the agent's server goes away: it reconnects to the other one
      const { body } = await fetch(`${otherUrl}/api/agents`).then(async (r) => ({ body: (await r.json()) as any }));
      expect(body.agents.some((a: { id: string }) => a.id === firstId)).toBe(true);
      const rejoined = await waitUntil(async () => {
        const r = (await fetch(`${otherUrl}/api/agents`).then((x) => x.json())) as any;
        // Listed once the server registered it; open once the agent has the answer.
        const listed = r.agents.find((a: { id: string; state: string }) => a.id !== firstId && a.state === 'connected');
        return link.state === 'open' ? listed : undefined;
      });
      expect(rejoined.id).not.toBe(firstId);
      const job = await fetch(`${otherUrl}/api/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'demo.echo', payload: { after: 'refusal' } }),
      }).then((r) => r.json() as Promise<any>);
      const done = await waitUntil(async () => {
        const j = (await fetch(`${otherUrl}/api/jobs/${job.id}`).then((r) => r.json())) as any;
        return j.state === 'succeeded' ? j : undefined;
      });
      expect(done.agentId).toBe(rejoined.id);
      // The agent knows itself by the id it was registered under anew, not the refused one.
      expect(agent.id).toBe(rejoined.id);
    } finally {
      await agent.stop(1000);
      await other.close();
    }
  });
});

async function waitUntil<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
