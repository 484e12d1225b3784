import { afterEach, describe, expect, it } from 'vitest';
import { Agent, demoTasks } from '@baton/agent';
import { parseConfigText } from '../src/scaling/config-file.js';
import { startHarness } from './harness.js';
import type { Harness } from './harness.js';

const config = parseConfigText(`
pools:
  burst:
    queues: [burst]
    tasks: [demo.sleep]
    max: 4
    slotsPerAgent: 2
    cooldownSeconds: 0
  gpu:
    queues: [train]
    min: 1
    max: 2
    gpusPerAgent: 8
scaling:
  syncSeconds: 1
`);

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

async function submit(h: Harness, n: number, ms: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await h.post('/api/jobs', { task: 'demo.sleep', queue: 'burst', payload: { ms } });
    expect(r.status).toBe(201);
    ids.push(r.body.id as string);
  }
  return ids;
}

async function burstAgent(h: Harness, name: string): Promise<Agent> {
  const agent = new Agent({
    link: h.server.localLink(),
    tasks: demoTasks,
    concurrency: 2,
    pool: 'burst',
    queues: ['burst'],
    name,
  });
  h.agents.push(agent);
  await agent.start();
  return agent;
}

const poolOf = (body: any, name: string) => (body.pools as any[]).find((p) => p.pool === name);

describe('GET /api/scaling', () => {
  it('says nothing is configured on a server without pools', async () => {
    h = await startHarness({ agents: 0 });
    const r = await h.get('/api/scaling');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ configured: false, pools: [] });
  });

  it('scales a pool from zero on a backlog, keeps busy agents, drains idle ones to zero', async () => {
    h = await startHarness({ agents: 0, scalingConfig: config });
    await submit(h, 5, 60_000);
    await h.server.scaling.sync();
    const first = await h.get('/api/scaling');
    expect(first.status).toBe(200);
    const burst = poolOf(first.body, 'burst');
    // 5 slots / (2 per agent × 0.8) → 4 agents; from zero the HPA's +4 pods policy allows 4.
    expect(burst).toMatchObject({ current: 0, desired: 4, min: 0, max: 4, unit: 'slots', pendingJobs: 5, load: 5 });
    // Decided by this sync or already by the wake-up on the first enqueue (then from a first
    // decision that saw fewer jobs): either way 4.
    expect(burst.reason).toMatch(/scale from zero: 5 pending job\(s\)|load 5 slots \(5 pending, 0 running\)/);
    expect(burst.lastScaleAt).toEqual(expect.any(Number));
    // A pool with min 1 and no work holds its minimum; its unit is GPUs.
    expect(poolOf(first.body, 'gpu')).toMatchObject({ desired: 1, unit: 'gpus', load: 0 });

    // Two agents come and take four of the jobs (two slots each); one stays pending.
    await burstAgent(h, 'burst-1');
    await burstAgent(h, 'burst-2');
    await waitUntil(async () =>
      (await h!.get('/api/queues')).body.queues.some((q: any) => q.name === 'burst' && q.counts.running === 4),
    );
    await h.server.scaling.sync();
    const busy = poolOf((await h.get('/api/scaling')).body, 'burst');
    expect(busy).toMatchObject({ current: 2, desired: 4, pendingJobs: 1, load: 5, drain: [] });

    // Cancel everything: the pool is idle, and with cooldown 0 it goes to zero at once (the
    // 300 s scale-down window does not hold a scale to zero: the cooldown governs it).
    const jobs = (await h.get('/api/jobs?queue=burst&limit=100')).body.jobs as any[];
    for (const j of jobs) await h.post(`/api/jobs/${j.id}/cancel`);
    await waitUntil(async () =>
      (await h!.server.scaling.sync()).pools.some((p) => p.pool === 'burst' && p.current === 2 && p.load === 0),
    );
    const idle = poolOf((await h.get('/api/scaling')).body, 'burst');
    expect(idle).toMatchObject({ current: 2, desired: 0, busyKept: 0 });
    // The first idle sync says "scale to zero"; a later one (the background sync may come first)
    // starts from its desired 0 and says the pool is idle. Either way: zero, both agents drained.
    expect(idle.reason).toMatch(/scale to zero|idle: no pending or running jobs/);
    const ids = h.agents.map((a) => a.id).sort();
    expect([...idle.drain].sort()).toEqual(ids);
  });

  it('never picks a busy agent for scale-in, and shows agent ids to admins only', async () => {
    h = await startHarness({ agents: 0, scalingConfig: config });
    await burstAgent(h, 'idle-one');
    const busyAgent = await burstAgent(h, 'busy-one');
    // One job, held by whichever agent takes it: that one is busy.
    const [id] = await submit(h, 1, 60_000);
    const running = await h.waitFor(id!, (j) => j.state === 'running');
    await waitUntil(async () =>
      (await h!.server.scaling.sync()).pools.some((p) => p.pool === 'burst' && p.current === 2),
    );
    const decision = poolOf((await h.get('/api/scaling')).body, 'burst');
    // 1 slot / 1.6 → 1 agent: one of the two goes, and it is the idle one.
    expect(decision.desired).toBe(1);
    const holder = running.agentId as string;
    const idleId = h.agents.map((a) => a.id).find((a) => a !== holder);
    expect(decision.drain).toEqual([idleId]);
    expect(busyAgent.id).toBeDefined();

    await h.post('/api/users', { name: 'alice' });
    const token = (await h.post('/api/users/alice/tokens', {})).body.token as string;
    const asUser = await h.get('/api/scaling', { authorization: `Bearer ${token}` });
    expect(asUser.status).toBe(200);
    expect(poolOf(asUser.body, 'burst')).toMatchObject({ desired: 1, drain: [] });
    const anonymous = await h.request('GET', '/api/scaling');
    expect(anonymous.status).toBe(401);
  });
});

describe('waking a pool at zero', () => {
  it('decides on the first job for a pool at zero at once, not at the next sync', async () => {
    const slow = parseConfigText(
      'pools:\n  burst:\n    queues: [burst]\n    tasks: [demo.sleep]\n    max: 2\n    slotsPerAgent: 2\nscaling:\n  syncSeconds: 600\n',
    );
    h = await startHarness({ agents: 0, scalingConfig: slow });
    await waitUntil(async () => (await h!.get('/api/scaling')).body.at !== null);
    expect(poolOf((await h.get('/api/scaling')).body, 'burst').desired).toBe(0);
    const r = await h.post('/api/jobs', { task: 'demo.sleep', queue: 'burst', payload: { ms: 1 } });
    expect(r.status).toBe(201);
    // The next periodic sync is ten minutes away: only the wake-up can decide this.
    await waitUntil(async () => poolOf((await h!.get('/api/scaling')).body, 'burst').desired === 1);
    expect(poolOf((await h.get('/api/scaling')).body, 'burst').reason).toContain('scale from zero: 1 pending job(s)');
  });
});

describe('scaling signals in /metrics', () => {
  it('exports desired agents per configured pool and GPUs stranded by fragmentation', async () => {
    const gpuConfig = parseConfigText(`
pools:
  gpu:
    queues: [train]
    tasks: [demo.sleep]
    max: 3
    gpusPerAgent: 4
`);
    h = await startHarness({ agents: 0, scalingConfig: gpuConfig });
    const gpus = [0, 1, 2, 3].map((index) => ({
      index,
      uuid: `GPU-${index}`,
      name: 'test',
      memoryMb: 1000,
      healthy: true,
    }));
    const agent = new Agent({
      link: h.server.localLink(),
      tasks: demoTasks,
      concurrency: 4,
      pool: 'gpu',
      queues: ['train'],
      gpus,
    });
    h.agents.push(agent);
    await agent.start();
    const sleep = (gpus: number) =>
      h!.post('/api/jobs', { task: 'demo.sleep', queue: 'train', payload: { ms: 60_000 }, resources: { gpus } });
    const two = await sleep(2);
    expect(two.status).toBe(201);
    await h.waitFor(two.body.id as string, (j) => j.state === 'running');
    // Two GPUs free, and the only job waiting wants four: the two are stranded.
    expect((await sleep(4)).status).toBe(201);
    const snapshot = await h.server.scaling.sync();
    expect(snapshot.strandedGpus).toEqual({ gpu: 2 });
    // (4 pending + 2 running) GPUs / (4 per agent × 0.8) → 2 agents.
    expect(snapshot.pools[0]).toMatchObject({ pool: 'gpu', unit: 'gpus', load: 6, desired: 2, current: 1 });
    const text = (await h.request('GET', '/metrics')).body as string;
    expect(text).toMatch(/^baton_desired_agents\{pool="gpu"\} 2$/m);
    expect(text).toMatch(/^baton_gpus_stranded\{pool="gpu"\} 2$/m);
  });
});

describe('task routes of pools at zero', () => {
  it('keeps accepting the tasks a pool served after its last agent left, and only on its queues', async () => {
    const noTasks = parseConfigText('pools:\n  burst:\n    queues: [burst]\n    max: 2\n    slotsPerAgent: 1\n');
    h = await startHarness({ agents: 0, scalingConfig: noTasks, routeTtlMs: 300 });
    // Before any agent of the pool came, nothing serves demo.echo on `burst`.
    const before = await h.post('/api/jobs', { task: 'demo.echo', queue: 'burst', payload: {} });
    expect(before.status).toBe(400);
    expect(before.body.error.code).toBe('UNKNOWN_QUEUE');
    const agent = new Agent({ link: h.server.localLink(), tasks: demoTasks, pool: 'burst', queues: ['burst', 'side'] });
    await agent.start();
    await agent.stop(1000);
    // Long past the route TTL, the pool's queue still takes the task; another queue does not.
    await new Promise((r) => setTimeout(r, 1200));
    const onPool = await h.post('/api/jobs', { task: 'demo.echo', queue: 'burst', payload: {} });
    expect(onPool.status).toBe(201);
    const elsewhere = await h.post('/api/jobs', { task: 'demo.echo', queue: 'side', payload: {} });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.code).toBe('UNKNOWN_QUEUE');
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 25));
  }
}
