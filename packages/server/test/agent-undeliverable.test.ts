import { afterEach, describe, expect, it } from 'vitest';
import type { Harness } from './harness.js';
import { isFinal, startHarness } from './harness.js';
import { TEST_AGENT_TOKEN, WireAgent } from './agent-wire-client.js';
import { poisonJob } from './agent-poison-fixture.js';

describe('a job whose payload cannot be encoded for a remote agent', () => {
  let h: Harness;
  const sockets: WireAgent[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await h?.close();
  });

  it('fails alone with UNDELIVERABLE; its agent gets the other jobs and the server stays up', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const agent = await WireAgent.connect(h.url);
    sockets.push(agent);
    await agent.register({ slots: 1 });

    // Straight into the store, past the HTTP edge: like a job stored before a limit existed.
    const poison = poisonJob();
    await h.store.enqueue([poison]);
    const failed = await h.waitFor(poison.id, isFinal);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'UNDELIVERABLE', retryable: false } });
    expect(failed.error.message).toMatch(/^the job's payload cannot be encoded for the agent: .*nested too deeply/);

    // The agent's slot was released: with one slot, the next job still reaches it.
    const ok = await h.post('/api/jobs', { task: 'demo.echo', payload: { n: 1 } });
    await agent.assignment(ok.body.id);
    expect(agent.assignments()).toHaveLength(1);
    const health = await h.get('/healthz');
    expect(health.status).toBe(200);
  });

  it('fails only the poison job of a delivery that carries several', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const poison = poisonJob();
    const others = [poisonJob(1), poisonJob(2)];
    await h.store.enqueue([others[0]!, poison, others[1]!]);
    const agent = await WireAgent.connect(h.url);
    sockets.push(agent);
    await agent.register({ slots: 8 });
    const failed = await h.waitFor(poison.id, isFinal);
    expect(failed.error.code).toBe('UNDELIVERABLE');
    for (const job of others) await agent.assignment(job.id);
    expect(
      agent
        .assignments()
        .map((a) => a.job.id)
        .sort(),
    ).toEqual(others.map((j) => j.id).sort());
  });
});
