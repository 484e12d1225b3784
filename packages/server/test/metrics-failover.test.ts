import { afterEach, describe, expect, it } from 'vitest';
import type { Harness } from './harness.js';
import { Agent, demoTasks } from '@baton/agent';
import { gateTask, isFinal, startHarness } from './harness.js';
import { WireAgent } from './agent-wire-client.js';
import type { Exposition } from './metrics-text.js';
import { parseExposition } from './metrics-text.js';

/**
 * This server's failover, expiry and preemption counts, with a raw agent on the wire that does exactly
 * what each case needs (loses a GPU, drops its connection, falls silent).
 */
describe('failovers, lease expiry and preemptions in /metrics', () => {
  let h: Harness | undefined;
  const wires: WireAgent[] = [];
  afterEach(async () => {
    for (const w of wires.splice(0)) w.close();
    await h?.close();
    h = undefined;
  });

  const start = async () => {
    h = await startHarness({
      link: 'ws',
      agents: 0,
      leaseMs: 1500,
      heartbeatMs: 200,
      agentTimeoutMs: 1500,
      reconnectGraceMs: 200,
    });
    return h;
  };
  const wireAgent = async (gpus = 0) => {
    const wire = await WireAgent.connect(h!.url);
    wires.push(wire);
    await wire.register({
      gpus: Array.from({ length: gpus }, (_, index) => ({
        index,
        uuid: `GPU-${index}`,
        name: 'test',
        memoryMb: 1000,
        healthy: true,
      })),
    });
    return wire;
  };
  const scrapeUntil = async (check: (m: Exposition) => boolean): Promise<Exposition> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await h!.request('GET', '/metrics');
      const m = parseExposition(r.body as string);
      if (check(m)) return m;
      if (Date.now() > deadline) throw new Error(`metrics never matched; last:\n${[...m.samples].join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const failovers = (m: Exposition, reason: string) => m.value('baton_failovers_total', { reason });

  it('counts a job moved off a GPU that became unhealthy', async () => {
    await start();
    const wire = await wireAgent(1);
    const job = await h!.post('/api/jobs', { task: 'demo.echo', resources: { gpus: 1 }, maxAttempts: 3 });
    await wire.assignment(job.body.id);
    await wire.request({ t: 'gpuHealth', gpus: [{ index: 0, healthy: false, reason: 'XID 79' }] });
    await h!.waitFor(job.body.id, (j) => j.state === 'queued');
    const m = await scrapeUntil((x) => failovers(x, 'gpu_unhealthy') === 1);
    expect(failovers(m, 'agent_lost')).toBe(0);
    expect(failovers(m, 'lease_expired')).toBe(0);
    expect(m.series('baton_jobs_finished_total')).toEqual([]);
    expect(m.value('baton_gpus_unhealthy', { pool: 'default' })).toBe(1);
    expect(m.value('baton_gpus_total', { pool: 'default' })).toBe(1);
  });

  it('counts the jobs of an agent lost after its connection closed', async () => {
    await start();
    const wire = await wireAgent();
    const job = await h!.post('/api/jobs', { task: 'demo.echo', maxAttempts: 3 });
    await wire.assignment(job.body.id);
    wire.close();
    await h!.waitFor(job.body.id, (j) => j.state === 'queued');
    const m = await scrapeUntil((x) => failovers(x, 'agent_lost') === 1);
    expect(failovers(m, 'gpu_unhealthy')).toBe(0);
    expect(m.value('baton_jobs_pending', { queue: 'default' })).toBe(1);
  });

  it('counts a job failed by lease expiry under its queue', async () => {
    await start();
    const wire = await wireAgent();
    const job = await h!.post('/api/jobs', { task: 'demo.echo', maxAttempts: 1 });
    await wire.assignment(job.body.id);
    // The agent never heartbeats: its lease runs out, and with no attempt left the job fails.
    await h!.waitFor(job.body.id, (j) => j.state === 'failed');
    const m = await scrapeUntil(
      (x) => x.value('baton_jobs_finished_total', { queue: 'default', state: 'failed' }) === 1,
    );
    expect(failovers(m, 'lease_expired')).toBe(0);
  });

  it('counts a preemption once', async () => {
    h = await startHarness({ agents: 0 });
    const gate = gateTask('metrics.preemptible');
    await h.store.registerTasks([{ task: 'metrics.preemptible', queue: 'default' }]);
    const agent = new Agent({
      link: h.server.localLink(),
      tasks: [...demoTasks, gate.task],
      concurrency: 1,
      preemptible: true,
      minRuntimeMs: 0,
      preemptGraceMs: 2000,
    });
    h.agents.push(agent);
    await agent.start();
    const low = (await h.post('/api/jobs', { task: 'metrics.preemptible', priority: 'low', maxAttempts: 2 })).body.id;
    await h.waitFor(low, (j) => j.state === 'running');
    const high = (await h.post('/api/jobs', { task: 'demo.echo', payload: 'urgent', priority: 'high' })).body.id;
    expect((await h.waitFor(high, isFinal)).state).toBe('succeeded');
    gate.release();
    expect((await h.waitFor(low, isFinal)).state).toBe('succeeded');
    const m = await scrapeUntil(
      (x) => x.value('baton_jobs_finished_total', { queue: 'default', state: 'succeeded' }) === 2,
    );
    expect(m.value('baton_preemptions_total')).toBe(1);
    // A preempted job goes back to the queue: neither finished nor a failover.
    expect(m.value('baton_jobs_finished_total', { queue: 'default', state: 'failed' })).toBeUndefined();
    expect(failovers(m, 'agent_lost')! + failovers(m, 'lease_expired')! + failovers(m, 'gpu_unhealthy')!).toBe(0);
  });
});
