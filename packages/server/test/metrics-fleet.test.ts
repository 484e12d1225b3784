import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Agent, demoTasks } from '@baton/agent';
import type { AnyTaskDefinition } from '@baton/agent';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import { networkedStores } from '../../../test/networked-stores.js';
import type { Exposition } from './metrics-text.js';
import { parseExposition } from './metrics-text.js';
import { gateTask } from './harness.js';

/**
 * Two servers on one networked store: the fleet's figures read the same from either, and
 * capacity per pool adds up the agents of both.
 */
describe.each(networkedStores('metricsfleet'))('GET /metrics with two servers on $name', (backing) => {
  const stores: Store[] = [];
  const servers: BatonServer[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop(1000)));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => backing.cleanup());

  const start = async () => {
    const store = await openStore(backing.url);
    stores.push(store);
    // Reports every 200 ms (not the default 2 s), so each server sees the other's agents sooner.
    const server = createBatonServer(store, { insecureNoAuth: true, maxSweepMs: 200, heartbeatMs: 200 });
    servers.push(server);
    return { server, store, url: await server.listen(0) };
  };
  const agentOn = async (server: BatonServer, pool: string, concurrency: number, tasks: AnyTaskDefinition[] = []) => {
    const agent = new Agent({
      link: server.localLink(),
      tasks: [...demoTasks, ...tasks],
      queues: ['metrics-idle'],
      pool,
      concurrency,
    });
    agents.push(agent);
    await agent.start();
  };
  const scrape = async (url: string): Promise<Exposition> => {
    const r = await fetch(`${url}/metrics`);
    expect(r.status).toBe(200);
    return parseExposition(await r.text());
  };
  /** Scrapes both servers until `check` holds for each. */
  const bothUntil = async (urls: string[], check: (m: Exposition) => boolean): Promise<Exposition[]> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const all = await Promise.all(urls.map(scrape));
      if (all.every(check)) return all;
      if (Date.now() > deadline) {
        throw new Error(`metrics never matched; last:\n${all.map((m) => [...m.samples].join('\n')).join('\n---\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const fleetPart = (m: Exposition, names: string[]) =>
    [...m.samples].filter(([key]) => names.some((n) => key === n || key.startsWith(`${n}{`))).sort();

  it('gives the same queue figures from both servers and merges their agents per pool', async () => {
    const a = await start();
    const b = await start();
    await a.store.registerTasks(demoTasks.map((t) => ({ task: t.name, queue: t.queue })));
    const submitted = await fetch(`${b.url}/api/jobs/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobs: Array.from({ length: 5 }, (_, n) => ({ task: 'demo.echo', payload: { n } })) }),
    });
    expect(submitted.status).toBe(201);

    // No agent yet: the five wait, and both servers say so alike.
    const queueFigures = ['baton_jobs_pending', 'baton_jobs_delayed', 'baton_jobs_blocked', 'baton_jobs_running'];
    const [qa, qb] = await bothUntil([a.url, b.url], (m) => m.value('baton_jobs_pending', { queue: 'default' }) === 5);
    expect(fleetPart(qa!, queueFigures)).toEqual(fleetPart(qb!, queueFigures));
    for (const m of [qa!, qb!])
      expect(m.value('baton_queue_oldest_age_seconds', { queue: 'default' })).toBeGreaterThan(0);

    // Agents join both servers, in two pools (one pool on both servers), and run the jobs.
    await agentOn(a.server, 'alpha', 2);
    await agentOn(b.server, 'alpha', 1);
    const gate = gateTask('metrics.fleet-gate');
    await agentOn(b.server, 'beta', 3, [gate.task]);
    const [ma, mb] = await bothUntil(
      [a.url, b.url],
      (m) =>
        m.value('baton_jobs_pending', { queue: 'default' }) === 0 &&
        m.value('baton_slots_capacity', { pool: 'alpha' }) === 3 &&
        m.value('baton_slots_capacity', { pool: 'beta' }) === 3 &&
        m.value('baton_slots_used', { pool: 'alpha' }) === 0 &&
        m.value('baton_slots_used', { pool: 'beta' }) === 0,
    );
    const poolFigures = [
      'baton_slots_capacity',
      'baton_slots_used',
      'baton_slots_available',
      'baton_gpus_total',
      'baton_agents',
      'baton_jobs_running',
    ];
    expect(fleetPart(ma!, [...queueFigures, ...poolFigures])).toEqual(
      fleetPart(mb!, [...queueFigures, ...poolFigures]),
    );
    for (const m of [ma!, mb!]) {
      expect(m.value('baton_agents', { pool: 'alpha', state: 'connected' })).toBe(2);
      expect(m.value('baton_agents', { pool: 'beta', state: 'connected' })).toBe(1);
      expect(m.value('baton_agents', { pool: 'beta', state: 'draining' })).toBe(0);
      expect(m.value('baton_slots_available', { pool: 'alpha' })).toBe(3);
      // Every queue a pool's agents serve has its series, at 0 while nothing runs there.
      expect(m.value('baton_jobs_running', { queue: 'default', pool: 'alpha' })).toBe(0);
      expect(m.value('baton_jobs_running', { queue: 'metrics-idle', pool: 'beta' })).toBe(0);
    }
    // Each server counts the outcomes its own agents reported: together, each job once. (A job
    // can be leased and not yet held when the gauges above read 0 pending and 0 used, so the
    // counts are read once the store has all five succeeded, and the counters caught up.)
    const finished = (m: Exposition) =>
      m.value('baton_jobs_finished_total', { queue: 'default', state: 'succeeded' }) ?? 0;
    const deadline = Date.now() + 15_000;
    let total = 0;
    for (;;) {
      const queues = (await (await fetch(`${a.url}/api/queues`)).json()) as {
        queues: { name: string; counts: Record<string, number> }[];
      };
      const [sa, sb] = await Promise.all([scrape(a.url), scrape(b.url)]);
      total = finished(sa!) + finished(sb!);
      if (queues.queues.find((q) => q.name === 'default')?.counts.succeeded === 5 && total >= 5) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const dump = async () =>
      (await Promise.all([scrape(a.url), scrape(b.url)]))
        .map((m) => [...m.samples].filter(([k]) => k.startsWith('baton_jobs_finished_total')).join(' '))
        .join(' | ');
    expect(total, await dump()).toBe(5);

    // A job held by server B's agent shows as running in its pool from server A too (B's report).
    await a.store.registerTasks([{ task: 'metrics.fleet-gate', queue: 'default' }]);
    const held = await fetch(`${a.url}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'metrics.fleet-gate' }),
    });
    expect(held.status).toBe(201);
    const [ra, rb] = await bothUntil(
      [a.url, b.url],
      (m) => m.value('baton_jobs_running', { queue: 'default', pool: 'beta' }) === 1,
    );
    for (const m of [ra!, rb!]) {
      expect(m.value('baton_jobs_running', { queue: 'default', pool: 'alpha' })).toBe(0);
      expect(m.value('baton_slots_used', { pool: 'beta' })).toBe(1);
    }
    gate.release();
  });
});
