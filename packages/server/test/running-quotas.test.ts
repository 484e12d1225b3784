import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent, demoTasks } from '@baton/agent';
import type { GpuDevice } from '@baton/core';
import type { Harness } from './harness.js';
import { ADMIN, gateTask, startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const gpus = (n: number): GpuDevice[] =>
  Array.from({ length: n }, (_, index) => ({
    index,
    uuid: `GPU-${index}`,
    name: 'test',
    memoryMb: 80_000,
    healthy: true,
  }));

/** Running quotas on one server: jobs past them wait with the reason shown, others' run. */
describe('running quotas', () => {
  let h: Harness;
  // A gate opens once: each test gets its own.
  let gate = gateTask('test.quota-gate');
  beforeEach(() => {
    gate = gateTask('test.quota-gate');
  });
  afterEach(async () => {
    gate.release();
    await h.close();
  });

  const user = async (name: string) => {
    await h.post('/api/users', { name });
    return bearer((await h.post(`/api/users/${name}/tokens`, {})).body.token);
  };
  const submit = (headers: Record<string, string>, resources: Record<string, number> = {}) =>
    h.post('/api/jobs', { task: 'test.quota-gate', payload: {}, resources }, headers);
  const states = async (ids: string[], headers: Record<string, string>) =>
    Promise.all(ids.map(async (id) => (await h.get(`/api/jobs/${id}`, headers)).body));

  it('holds a user at maxRunningJobs with QUOTA_MAX_RUNNING while another user runs', async () => {
    h = await startHarness({ agents: 0 });
    const agent = new Agent({ link: h.server.localLink(), tasks: [...demoTasks, gate.task], concurrency: 8 });
    h.agents.push(agent);
    await agent.start();
    const ann = await user('ann');
    const ben = await user('ben');
    await h.request('PUT', '/api/users/ann/quota', { headers: ADMIN, body: { maxRunningJobs: 2 } });
    const anns: string[] = [];
    for (let i = 0; i < 5; i++) anns.push((await submit(ann)).body.id as string);
    const bens: string[] = [];
    for (let i = 0; i < 3; i++) bens.push((await submit(ben)).body.id as string);
    await expect
      .poll(async () => (await states(bens, ben)).every((j) => j.state === 'running'), { timeout: 10_000 })
      .toBe(true);
    await expect.poll(async () => (await states(anns, ann)).filter((j) => j.state === 'running').length).toBe(2);
    const waiting = (await states(anns, ann)).filter((j) => j.state === 'queued');
    expect(waiting).toHaveLength(3);
    for (const j of waiting) expect(j.pendingReason.code).toBe('QUOTA_MAX_RUNNING');
    // Room stays: the agent has 8 slots and 5 are used.
    expect((await h.store.ownerUsage('ann')).leasedJobs).toBe(2);
  });

  it('holds a user at maxGpus with QUOTA_MAX_GPUS, the reason shown', async () => {
    h = await startHarness({ agents: 0 });
    const agent = new Agent({
      link: h.server.localLink(),
      tasks: [...demoTasks, gate.task],
      concurrency: 8,
      gpus: gpus(4),
    });
    h.agents.push(agent);
    await agent.start();
    const cat = await user('cat');
    await h.request('PUT', '/api/users/cat/quota', { headers: ADMIN, body: { maxGpus: 2 } });
    const first = (await submit(cat, { gpus: 2 })).body.id as string;
    const second = (await submit(cat, { gpus: 1 })).body.id as string;
    await expect
      .poll(async () => (await h.get(`/api/jobs/${first}`, cat)).body.state, { timeout: 10_000 })
      .toBe('running');
    await expect
      .poll(async () => (await h.get(`/api/jobs/${second}`, cat)).body.pendingReason?.code)
      .toBe('QUOTA_MAX_GPUS');
    // Raising the quota lets it run.
    await h.request('PUT', '/api/users/cat/quota', { headers: ADMIN, body: { maxGpus: 3 } });
    await expect
      .poll(async () => (await h.get(`/api/jobs/${second}`, cat)).body.state, { timeout: 10_000 })
      .toBe('running');
  });
});
