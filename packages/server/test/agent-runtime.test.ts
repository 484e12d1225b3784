import { afterEach, describe, expect, it } from 'vitest';
import { Agent, defineTask, demoTasks } from '@baton/agent';
import type { Harness } from './harness.js';
import { gateTask, isFinal, startHarness } from './harness.js';

describe('agent runtime', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('keeps a job longer than its lease alive by heartbeats', async () => {
    // Heartbeats at the usual fifth of the lease: a job is fenced only after 1.2 s without a
    // confirmed heartbeat, so a loaded machine's late timers do not cost the lease.
    const leaseMs = 1500;
    h = await startHarness({ leaseMs });
    const res = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 5000 } });
    const job = await h.waitFor(res.body.id, isFinal);
    expect(job).toMatchObject({ state: 'succeeded', attempts: 1, result: { sleptMs: 5000 } });
    // It did run more than three leases long, in one attempt.
    expect(Date.parse(job.finishedAt) - Date.parse(job.startedAt)).toBeGreaterThan(3 * leaseMs);
  });

  it('reports progress while running', async () => {
    h = await startHarness();
    // Part-way for over two seconds (progress shows within 0.5 s), however slowly it is polled.
    const res = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 2500 } });
    // Seen part-way (the wait is the check), then the job ends at 100.
    await h.waitFor(res.body.id, (j) => j.state === 'running' && j.progress > 0 && j.progress < 100);
    expect(await h.waitFor(res.body.id, isFinal)).toMatchObject({ state: 'succeeded', progress: 100 });
  });

  it('drains on stop: running jobs finish, no new work is taken', async () => {
    h = await startHarness({ agents: 0 });
    const agent = await h.addAgent({ concurrency: 1 });
    // Long enough to be still running when b is queued and the drain begins, however slowly.
    const a = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 2000 } });
    await h.waitFor(a.body.id, (j) => j.state === 'running');
    const b = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 1 } });
    await agent.stop(5000);
    expect(agent.state).toBe('stopped');
    expect((await h.get(`/api/jobs/${a.body.id}`)).body.state).toBe('succeeded');
    expect((await h.get(`/api/jobs/${b.body.id}`)).body.state).toBe('queued');
    expect((await h.get('/api/agents')).body.agents).toHaveLength(0);
  });

  it('aborts jobs still running when the drain grace runs out; they run again elsewhere', async () => {
    // A lease a stalled machine cannot outrun: the job must end by the drain (AGENT_STOPPING),
    // not by its lease fence (LEASE_LOST).
    h = await startHarness({ agents: 0, leaseMs: 2000 });
    const gate = gateTask();
    const first = await h.addAgent({ concurrency: 1, tasks: [gate.task] });
    const res = await h.post('/api/jobs', { task: 'test.gate' });
    await h.waitFor(res.body.id, (j) => j.state === 'running');
    await first.stop(50);
    expect(gate.aborted).toEqual([res.body.id]);
    gate.release();
    await h.addAgent({ concurrency: 1, tasks: [gate.task] });
    const job = await h.waitFor(res.body.id, isFinal);
    expect(job.state).toBe('succeeded');
    expect(job.attempts).toBe(2);
    expect(job.history[0]).toMatchObject({ outcome: 'failed', error: { code: 'AGENT_STOPPING', retryable: true } });
  });

  it('never hands a job to an agent without its task: the job waits and says why', async () => {
    h = await startHarness({ agents: 0 });
    await h.store.registerTasks([{ task: 'elsewhere.only', queue: 'default' }]);
    await h.addAgent();
    const res = await h.post('/api/jobs', { task: 'elsewhere.only', maxAttempts: 4 });
    const job = await h.waitFor(res.body.id, (j) => j.pendingReason !== null);
    expect(job).toMatchObject({ state: 'queued', attempts: 0, pendingReason: { code: 'NO_AGENT_FOR_TASK' } });
    // An agent that serves it takes it.
    await h.addAgent({ tasks: [defineTask('elsewhere.only', async () => 'ran')] });
    expect(await h.waitFor(res.body.id, isFinal)).toMatchObject({ state: 'succeeded', result: 'ran', attempts: 1 });
  });

  it('honours its concurrency', async () => {
    h = await startHarness({ agents: 0 });
    let running = 0;
    let peak = 0;
    const track = defineTask('test.track', async () => {
      peak = Math.max(peak, ++running);
      // Long enough that jobs handed over together overlap even when their starts straggle.
      await new Promise((r) => setTimeout(r, 100));
      running--;
    });
    await h.addAgent({ concurrency: 3, tasks: [track] });
    const bulk = await h.post('/api/jobs/bulk', { jobs: Array.from({ length: 20 }, () => ({ task: 'test.track' })) });
    for (const { id } of bulk.body.jobs) await h.waitFor(id, isFinal);
    expect(peak).toBe(3);
  });

  it('refuses a non-positive concurrency', () => {
    expect(() => new Agent({ link: {} as never, tasks: demoTasks, concurrency: 0 })).toThrow(
      /concurrency must be a positive integer/,
    );
  });
});
