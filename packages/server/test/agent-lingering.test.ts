import { afterEach, describe, expect, it } from 'vitest';
import { defineTask } from '@baton/agent';
import type { Harness, HarnessLink } from './harness.js';
import { isFinal, startHarness } from './harness.js';
import { TEST_AGENT_TOKEN, WireAgent } from './agent-wire-client.js';

/**
 * A handler that ignores its AbortSignal runs on after its job was cancelled: the agent keeps
 * its slot, and tells the server, which counts the slot as taken (no work is placed there that
 * would only wait) and lists the job under the agent's `lingering` until the handler returns.
 */
async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A task whose handler never looks at its signal: it returns only when let go. */
function stubbornTask() {
  let letGo!: () => void;
  const gate = new Promise<void>((resolve) => (letGo = resolve));
  const task = defineTask('test.stubborn', async () => {
    await gate;
    return { done: true };
  });
  return { task, letGo: () => letGo() };
}

describe.each<HarnessLink>(['local', 'ws'])('a lingering handler (%s agent)', (link) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('holds its slot on the server and is listed by GET /api/agents until it returns', async () => {
    h = await startHarness({ agents: 0, link });
    const stubborn = stubbornTask();
    const agent = await h.addAgent({ concurrency: 1, tasks: [stubborn.task] });
    const agentEntry = async () => {
      const { body } = await h.get('/api/agents');
      return (body.agents as any[]).find((a) => a.id === agent.id);
    };

    const first = await h.post('/api/jobs', { task: 'test.stubborn' });
    await h.waitFor(first.body.id, (j) => j.state === 'running');
    expect((await h.post(`/api/jobs/${first.body.id}/cancel`)).status).toBe(200);
    await h.waitFor(first.body.id, (j) => j.state === 'cancelled');

    const lingering = await until('the job listed as lingering', async () => {
      const entry = await agentEntry();
      return entry?.lingering?.length > 0 ? entry : undefined;
    });
    expect(lingering.lingering).toEqual([{ jobId: first.body.id, slots: 1, gpus: [], since: expect.any(String) }]);
    expect(lingering.used).toBe(1);
    expect(agent.lingering).toEqual([first.body.id]);

    // Its slot is not offered: new work stays queued, waiting for capacity, not on the agent.
    const second = await h.post('/api/jobs', { task: 'demo.echo', payload: { n: 2 } });
    const waiting = await h.waitFor(second.body.id, (j) => j.pendingReason !== null);
    expect(waiting.pendingReason.code).toBe('WAITING_FOR_CAPACITY');
    expect(h.server.gateway.capacity()[0]?.freeSlots).toBe(0);
    await new Promise((r) => setTimeout(r, 300)); // several scheduling passes
    expect((await h.get(`/api/jobs/${second.body.id}`)).body.state).toBe('queued');

    stubborn.letGo();
    await until('the lingering job gone', async () =>
      (await agentEntry())?.lingering.length === 0 ? true : undefined,
    );
    const done = await h.waitFor(second.body.id, isFinal);
    expect(done).toMatchObject({ state: 'succeeded', result: { n: 2 } });
    expect(agent.lingering).toEqual([]);
  });
});

describe('a lingering report', () => {
  let h: Harness;
  const sockets: WireAgent[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await h?.close();
  });

  it('may not claim more than the agent has', async () => {
    h = await startHarness({ agents: 0, agentToken: TEST_AGENT_TOKEN });
    const agent = await WireAgent.connect(h.url);
    sockets.push(agent);
    const registered = await agent.register({ slots: 2 });
    expect(registered.ok).toBe(true);
    const job = (jobId: string, slots: number, gpus: number[] = []) => ({ jobId, slots, gpus, since: Date.now() });

    const tooMany = await agent.request({ t: 'lingering', jobs: [job('a', 2), job('b', 1)] });
    expect(tooMany.error).toMatchObject({ code: 'INVALID_LINGERING' });
    expect(tooMany.error.message).toMatch(/3 slots; the agent has 2/);
    const noSuchGpu = await agent.request({ t: 'lingering', jobs: [job('a', 1, [0])] });
    expect(noSuchGpu.error).toMatchObject({ code: 'INVALID_LINGERING' });
    const twice = await agent.request({ t: 'lingering', jobs: [job('a', 1), job('a', 1)] });
    expect(twice.error).toMatchObject({ code: 'INVALID_LINGERING' });
    const badShape = await agent.request({ t: 'lingering', jobs: [{ jobId: 'a', slots: 0, gpus: [], since: 1 }] });
    expect(badShape.error).toMatchObject({ code: 'INVALID_AGENT_MESSAGE' });
    expect(h.server.gateway.agents()[0]?.slotsUsed).toBe(0);

    const fits = await agent.request({ t: 'lingering', jobs: [job('a', 2)] });
    expect(fits.ok).toBe(true);
    expect(h.server.gateway.capacity()[0]?.freeSlots).toBe(0);
    const cleared = await agent.request({ t: 'lingering', jobs: [] });
    expect(cleared.ok).toBe(true);
    expect(h.server.gateway.capacity()[0]?.freeSlots).toBe(2);
  });
});
