import { afterEach, describe, expect, it } from 'vitest';
import { Agent, WsLink, defineTask, demoTasks } from '@baton/agent';
import type { AgentOptions } from '@baton/agent';
import type { AgentInbox } from '@baton/core';
import { TEST_AGENT_TOKEN } from './agent-wire-client.js';
import type { Harness, HarnessLink } from './harness.js';
import { startHarness } from './harness.js';

/**
 * Priority pools end to end: an agent started with `priorities` takes only those classes, and a
 * job of another class waits with NO_AGENT_FOR_PRIORITY; the declaration shows in GET /api/agents,
 * in process and over the wire. A preemption reaches the agent's handler as `PREEMPTED`.
 */
const isFinal = (j: { state: string }) => ['succeeded', 'failed', 'cancelled'].includes(j.state);

describe.each<HarnessLink>(['local', 'ws'])('priority pools (%s link)', (link) => {
  let h: Harness;
  afterEach(() => h?.close());

  const addAgent = async (options: Partial<AgentOptions>): Promise<Agent> => {
    const agent = new Agent({
      link: link === 'ws' ? new WsLink({ serverUrl: h.url, token: TEST_AGENT_TOKEN }) : h.server.localLink(),
      tasks: [...demoTasks],
      concurrency: 2,
      ...options,
    });
    h.agents.push(agent);
    await agent.start();
    return agent;
  };

  it('a high-only agent never runs a low job, which says why; a high job runs there', async () => {
    h = await startHarness({ agents: 0, link });
    await addAgent({ name: 'high-pool', priorities: ['high'] });
    const low = await h.post('/api/jobs', { task: 'demo.echo', payload: 'low', priority: 'low' });
    expect(low.status).toBe(201);
    const waiting = await h.waitFor(low.body.id, (j) => j.pendingReason !== null);
    expect(waiting).toMatchObject({ state: 'queued', attempts: 0, pendingReason: { code: 'NO_AGENT_FOR_PRIORITY' } });
    expect(waiting.pendingReason.message).toMatch(
      /takes low-priority jobs: its only eligible agent is dedicated to high/,
    );

    const high = await h.post('/api/jobs', { task: 'demo.echo', payload: 'high', priority: 'high' });
    expect(await h.waitFor(high.body.id, isFinal)).toMatchObject({ state: 'succeeded', result: 'high' });
    expect((await h.get(`/api/jobs/${low.body.id}`)).body).toMatchObject({ state: 'queued', attempts: 0 });

    const [agent] = (await h.get('/api/agents')).body.agents;
    expect(agent).toMatchObject({
      name: 'high-pool',
      priorities: ['high'],
      preemptible: false,
      minRuntimeMs: 60_000,
      preemptGraceMs: 30_000,
    });
  });

  it('shows a preemptible agent and its limits; an agent without pool options takes every class', async () => {
    h = await startHarness({ agents: 0, link });
    await addAgent({ name: 'spot', preemptible: true, minRuntimeMs: 5000, preemptGraceMs: 1000 });
    await addAgent({ name: 'plain' });
    const agents = (await h.get('/api/agents')).body.agents as { name: string }[];
    const byName = new Map(agents.map((a) => [a.name, a]));
    expect(byName.get('spot')).toMatchObject({
      priorities: ['high', 'normal', 'low'],
      preemptible: true,
      minRuntimeMs: 5000,
      preemptGraceMs: 1000,
    });
    expect(byName.get('plain')).toMatchObject({ priorities: ['high', 'normal', 'low'], preemptible: false });
  });
});

describe('priority pools: registration and preemption on the server', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('refuses a registration both dedicated and preemptible, or listing a class twice', async () => {
    h = await startHarness({ agents: 0 });
    const inbox: AgentInbox = { deliver: () => {}, abort: () => {}, held: () => [] };
    const base = { queues: ['default'], tasks: [{ task: 'demo.echo', queue: 'default' }], slots: 1 };
    await expect(
      h.server.localLink().register({ ...base, priorities: ['high'], preemptible: true }, inbox),
    ).rejects.toMatchObject({
      code: 'INVALID_REGISTRATION',
      message: expect.stringMatching(/dedicated to high cannot also be preemptible/),
    });
    await expect(h.server.localLink().register({ ...base, priorities: ['high', 'high'] }, inbox)).rejects.toMatchObject(
      { code: 'INVALID_REGISTRATION', message: expect.stringMatching(/"high" is listed twice/) },
    );
  });

  it.each<HarnessLink>(['local', 'ws'])(
    'keeps the offered priority with the held job, and a preemption aborts it as PREEMPTED (%s link)',
    async (link) => {
      // No scheduler: the test offers the job itself, as a scheduler that filled `priority` would.
      h = await startHarness({ agents: 0, link, scheduler: false });
      const seen: unknown[] = [];
      const gate = defineTask('test.gate', async (_payload: unknown, ctx) => {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        seen.push(ctx.signal.reason);
        throw ctx.signal.reason;
      });
      await h.store.registerTasks([{ task: 'test.gate', queue: 'default' }]);
      const agent = new Agent({
        link: link === 'ws' ? new WsLink({ serverUrl: h.url, token: TEST_AGENT_TOKEN }) : h.server.localLink(),
        tasks: [gate],
        concurrency: 1,
        preemptible: true,
        preemptGraceMs: 500,
        minRuntimeMs: 0,
      });
      h.agents.push(agent);
      await agent.start();
      const res = await h.post('/api/jobs', { task: 'test.gate', priority: 'low' });
      const jobId = res.body.id as string;
      const agentId = agent.id!;
      const resources = { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 };
      const assigned = await h.server.gateway.admit([
        { jobId, agentId, gpus: [], resources, priority: 'low', owner: 'someone' },
      ]);
      expect(assigned).toHaveLength(1);
      await h.waitFor(jobId, (j) => j.state === 'running');

      const [capacity] = h.server.gateway.capacity();
      expect(capacity).toMatchObject({ preemptible: true, preemptGraceMs: 500, minRuntimeMs: 0 });
      // The owner is the job's own (the assignment's), not what the offer said.
      expect(capacity!.running).toEqual([
        {
          jobId,
          priority: 'low',
          owner: assigned[0]!.job.owner,
          startedAt: expect.any(Number),
          slots: 1,
          cpu: 0,
          memoryMb: 0,
          gpus: [],
        },
      ]);

      expect(
        h.server.gateway.preempt(
          [
            { jobId, agentId },
            { jobId: 'j-elsewhere', agentId: 'a-elsewhere' },
          ],
          'for a high job',
        ),
      ).toEqual([jobId]);
      expect(h.server.gateway.capacity()[0]!.running![0]).toMatchObject({ jobId, preempting: true });
      await h.waitFor(jobId, (j) => j.state !== 'running');
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ code: 'PREEMPTED', message: 'for a high job', retryable: true, graceMs: 500 });
    },
  );
});

describe('the capacity report other servers read', () => {
  it('carries pools and a preemptible agent’s running jobs; a report without them reads as before', async () => {
    const { fromReport, toReport } = await import('../src/agents/capacity-wire.js');
    const base = {
      id: 'a-1',
      pool: 'default',
      queues: ['default'],
      tasks: new Set(['demo.echo']),
      tags: [],
      freeSlots: 1,
      freeCpu: Infinity,
      freeMemoryMb: Infinity,
      freeGpus: [1],
      gpuCount: 2,
      total: { slots: 2, cpu: Infinity, memoryMb: Infinity, gpus: 2 },
    };
    const running = [
      {
        jobId: 'j-1',
        priority: 'low' as const,
        owner: 'ada',
        startedAt: 1000,
        slots: 1,
        cpu: 0,
        memoryMb: 0,
        gpus: [0],
      },
      { jobId: 'j-2', priority: null, owner: null, startedAt: 2000, slots: 1, cpu: 0, memoryMb: 0, gpus: [] },
    ];
    const spot = { ...base, preemptible: true, minRuntimeMs: 5, preemptGraceMs: 7, running };
    const dedicated = { ...base, id: 'a-2', priorities: ['high' as const] };
    const read = fromReport(JSON.parse(JSON.stringify(toReport([spot, dedicated, base]))));
    expect(read[0]).toEqual(spot);
    expect(read[1]).toEqual(dedicated);
    expect(read[2]).toEqual(base);
    // Classes this server does not know (a newer server's) serve nothing here rather than everything.
    const newer = toReport([dedicated]) as unknown as { agents: { priorities: unknown }[] };
    newer.agents[0]!.priorities = ['urgent'];
    expect(fromReport(newer)[0]!.priorities).toEqual([]);
  });
});
