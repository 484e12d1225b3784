import { afterEach, describe, expect, it } from 'vitest';
import { Agent, demoTasks } from '@baton/agent';
import { pino } from 'pino';
import { BatonError } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import type { Harness } from './harness.js';
import { ADMIN, gateTask, isFinal, startHarness } from './harness.js';
import type { Exposition } from './metrics-text.js';
import { parseExposition } from './metrics-text.js';

const scrape = async (url: string, headers: Record<string, string> = {}): Promise<Exposition> => {
  const r = await fetch(`${url}/metrics`, { headers });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await r.text());
};

/** Scrapes until `check` holds (fleet figures are cached for about a second). */
const scrapeUntil = async (url: string, check: (m: Exposition) => boolean): Promise<Exposition> => {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = await scrape(url);
    if (check(m)) return m;
    if (Date.now() > deadline) throw new Error(`metrics never matched; last:\n${[...m.samples].join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('GET /metrics on one server (SQLite, in-process agents)', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** A server on a store whose clock runs `offset.ms` ahead of this process's. */
  const startServer = async (
    options: Parameters<typeof createBatonServer>[1] = {},
    wrap: (store: Store) => Store = (store) => store,
  ) => {
    const offset = { ms: 0 };
    const store: Store = await openStore('sqlite::memory:', { clock: () => Date.now() + offset.ms });
    const server: BatonServer = createBatonServer(wrap(store), { insecureNoAuth: true, maxSweepMs: 200, ...options });
    const url = await server.listen(0);
    await store.registerTasks(demoTasks.map((t) => ({ task: t.name, queue: t.queue })));
    const agents: Agent[] = [];
    closers.push(async () => {
      await Promise.all(agents.map((a) => a.stop(1000)));
      await server.close();
      await store.close();
    });
    const addAgent = async (o: { pool?: string; tasks?: Agent['options']['tasks'] } = {}) => {
      const agent = new Agent({
        link: server.localLink(),
        tasks: [...demoTasks, ...(o.tasks ?? [])],
        concurrency: 4,
        ...(o.pool !== undefined && { pool: o.pool }),
      });
      agents.push(agent);
      await agent.start();
      return agent;
    };
    const post = async (path: string, body: unknown) => {
      const r = await fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as any };
    };
    const waitFor = async (id: string, done: (job: any) => boolean) => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const job = (await (await fetch(`${url}/api/jobs/${id}`)).json()) as any;
        if (done(job)) return job;
        if (Date.now() > deadline) throw new Error(`job ${id} never got there: ${JSON.stringify(job)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { store, server, url, offset, addAgent, post, waitFor };
  };

  it('counts pending, running and finished jobs, their durations and waits, exactly', async () => {
    const s = await startServer();
    const submitted = await s.post('/api/jobs/bulk', {
      jobs: [1, 2, 3].map((n) => ({ task: 'demo.echo', payload: { n } })),
    });
    expect(submitted.status).toBe(201);

    // No agent: all three wait, and the oldest has waited as long as the store's clock says.
    s.offset.ms = 3_600_000;
    let m = await scrapeUntil(s.url, (x) => x.value('baton_jobs_pending', { queue: 'default' }) === 3);
    const age = m.value('baton_queue_oldest_age_seconds', { queue: 'default' })!;
    expect(age).toBeGreaterThanOrEqual(3600);
    expect(age).toBeLessThan(3600 + 600);
    expect(m.value('baton_jobs_delayed', { queue: 'default' })).toBe(0);
    expect(m.value('baton_jobs_finished_total', { queue: 'default', state: 'succeeded' })).toBeUndefined();
    expect(m.series('baton_agents')).toEqual([]);
    s.offset.ms = 0;

    // An agent runs them.
    await s.addAgent();
    for (const { id } of submitted.body.jobs) await s.waitFor(id, isFinal);
    m = await scrapeUntil(s.url, (x) => x.value('baton_jobs_pending', { queue: 'default' }) === 0);
    expect(m.value('baton_queue_oldest_age_seconds', { queue: 'default' })).toBe(0);
    expect(m.value('baton_jobs_finished_total', { queue: 'default', state: 'succeeded' })).toBe(3);
    expect(m.value('baton_job_duration_seconds_count', { queue: 'default' })).toBe(3);
    expect(m.value('baton_job_duration_seconds_bucket', { queue: 'default', le: '+Inf' })).toBe(3);
    expect(m.value('baton_job_wait_seconds_count', { queue: 'default' })).toBe(3);
    expect(m.value('baton_jobs_running', { queue: 'default', pool: 'default' })).toBe(0);
    expect(m.value('baton_agents', { pool: 'default', state: 'connected' })).toBe(1);
    expect(m.value('baton_agents', { pool: 'default', state: 'draining' })).toBe(0);
    expect(m.value('baton_agents', { pool: 'default', state: 'disconnected' })).toBe(0);
    expect(m.value('baton_slots_capacity', { pool: 'default' })).toBe(4);
    expect(m.value('baton_slots_available', { pool: 'default' })).toBe(4);
    expect(m.value('baton_gpus_total', { pool: 'default' })).toBe(0);
    expect(m.value('baton_schedule_pass_seconds_count')! > 0).toBe(true);
    expect(m.types.get('baton_jobs_finished_total')).toBe('counter');
    expect(m.types.get('baton_job_duration_seconds')).toBe('histogram');
    expect(m.types.get('baton_jobs_pending')).toBe('gauge');

    // A failing job, out of attempts: failed.
    const failing = await s.post('/api/jobs', { task: 'demo.fail', maxAttempts: 1 });
    await s.waitFor(failing.body.id, isFinal);
    m = await scrape(s.url);
    expect(m.value('baton_jobs_finished_total', { queue: 'default', state: 'failed' })).toBe(1);
    expect(m.value('baton_jobs_finished_total', { queue: 'default', state: 'succeeded' })).toBe(3);
    expect(m.value('baton_job_duration_seconds_count', { queue: 'default' })).toBe(4);
    expect(m.value('baton_job_wait_seconds_count', { queue: 'default' })).toBe(4);
  });

  it('shows a running job on its pool, and counts its cancel once', async () => {
    const gate = gateTask('metrics.gate');
    const s = await startServer();
    await s.store.registerTasks([{ task: 'metrics.gate', queue: 'default' }]);
    await s.addAgent({ pool: 'blue', tasks: [gate.task] });
    const job = await s.post('/api/jobs', { task: 'metrics.gate' });
    await s.waitFor(job.body.id, (j) => j.state === 'running');
    let m = await scrapeUntil(s.url, (x) => x.value('baton_jobs_running', { queue: 'default', pool: 'blue' }) === 1);
    expect(m.value('baton_slots_used', { pool: 'blue' })).toBe(1);
    expect(m.value('baton_slots_available', { pool: 'blue' })).toBe(3);

    const cancelled = await s.post(`/api/jobs/${job.body.id}/cancel`, {});
    expect(cancelled.body.state).toBe('cancelled');
    // Its agent's report of the stopped job is refused: not counted again.
    m = await scrapeUntil(s.url, (x) => x.value('baton_jobs_running', { queue: 'default', pool: 'blue' }) === 0);
    expect(m.value('baton_jobs_finished_total', { queue: 'default', state: 'cancelled' })).toBe(1);
    expect(m.value('baton_jobs_finished_total', { queue: 'default', state: 'failed' })).toBeUndefined();
    // Cancelling it again changes nothing.
    await s.post(`/api/jobs/${job.body.id}/cancel`, {});
    expect((await scrape(s.url)).value('baton_jobs_finished_total', { queue: 'default', state: 'cancelled' })).toBe(1);
  });

  it('labels HTTP requests by route pattern, unmatched paths as one', async () => {
    const s = await startServer();
    const job = await s.post('/api/jobs', { task: 'demo.echo' });
    await fetch(`${s.url}/api/jobs/${job.body.id}`);
    await fetch(`${s.url}/no/such/path/${job.body.id}`);
    const m = await scrape(s.url);
    expect(m.value('baton_http_requests_total', { method: 'POST', route: '/api/jobs', status: '201' })).toBe(1);
    expect(m.value('baton_http_requests_total', { method: 'GET', route: '/api/jobs/:id', status: '200' })).toBe(1);
    expect(m.value('baton_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(m.value('baton_http_request_duration_seconds_count', { method: 'GET', route: '/api/jobs/:id' })).toBe(1);
    expect(m.series('baton_http_requests_total').some((x) => x.labels.route!.includes(job.body.id))).toBe(false);
    // Process metrics, under their usual names.
    expect(m.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(m.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('exports the scaling signals when given a provider, and no such series without one', async () => {
    const withSignals = await startServer({
      poolSignals: async () => [
        { pool: 'gpu', desired: 3, strandedGpus: 2 },
        { pool: 'cpu', desired: 0, strandedGpus: 0 },
      ],
    });
    const m = await scrape(withSignals.url);
    expect(m.value('baton_desired_agents', { pool: 'gpu' })).toBe(3);
    expect(m.value('baton_desired_agents', { pool: 'cpu' })).toBe(0);
    expect(m.value('baton_gpus_stranded', { pool: 'gpu' })).toBe(2);
    const without = await startServer();
    const n = await scrape(without.url);
    expect(n.types.get('baton_desired_agents')).toBe('gauge');
    expect(n.series('baton_desired_agents')).toEqual([]);
    expect(n.series('baton_gpus_stranded')).toEqual([]);
    // A provider that fails leaves its gauges out; the rest is served.
    const failing = await startServer({
      poolSignals: async () => {
        throw new Error('scaling not ready');
      },
      logger: pino({ level: 'silent' }),
    });
    const f = await scrape(failing.url);
    expect(f.series('baton_desired_agents')).toEqual([]);
    expect(f.value('baton_jobs_pending', { queue: 'default' })).toBe(0);
  });

  it('reads the store once for concurrent scrapes, and again only after a second', async () => {
    let reads = 0;
    // The scaling decisions read the store on their own period (at most once per syncSeconds);
    // here only the fleet figures' reads are counted.
    const s = await startServer(
      { poolSignals: async () => [] },
      (store) =>
        new Proxy(store, {
          get(target, key, receiver) {
            if (key === 'queueStats') {
              return () => {
                reads++;
                return target.queueStats();
              };
            }
            const value = Reflect.get(target, key, receiver);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    );
    const before = reads;
    await Promise.all(Array.from({ length: 5 }, () => scrape(s.url)));
    expect(reads - before).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    await scrape(s.url);
    expect(reads - before).toBe(2);
  });

  it("serves this server's own metrics when the store cannot be read, and says the fleet's are missing", async () => {
    let down = false;
    const s = await startServer(
      { logger: pino({ level: 'silent' }) },
      (store) =>
        new Proxy(store, {
          get(target, key, receiver) {
            if (key === 'queueStats') {
              return () => {
                if (down) return Promise.reject(new BatonError('STORE_UNAVAILABLE', 'the store is down', 503));
                return target.queueStats();
              };
            }
            const value = Reflect.get(target, key, receiver);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    );
    expect((await scrape(s.url)).value('baton_fleet_figures_up')).toBe(1);
    await new Promise((r) => setTimeout(r, 1100)); // past the cached read
    down = true;
    const m = await scrape(s.url);
    expect(m.value('baton_fleet_figures_up')).toBe(0);
    expect(m.series('baton_jobs_pending')).toEqual([]);
    expect(m.series('baton_slots_capacity')).toEqual([]);
    expect(m.value('baton_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBe(1);
    expect(m.types.get('process_cpu_user_seconds_total')).toBe('counter');
    down = false;
    const back = await scrape(s.url);
    expect(back.value('baton_fleet_figures_up')).toBe(1);
    expect(back.value('baton_jobs_pending', { queue: 'default' })).toBe(0);
  });

  it('counts a pool an older server reports (slots, no pool figures) with zeros for what it lacks', async () => {
    const s = await startServer();
    const slots = { name: 'legacy', capacity: 8, target: 8, used: 2, available: 6, holders: 2 };
    await s.store.putAgents(
      'server-older',
      {
        agents: [],
        pools: {
          slots: [slots],
          totals: { capacity: 8, used: 2, available: 6 },
          gpus: { total: 0, used: 0, available: 0, unhealthy: 0 },
        },
      },
      60_000,
    );
    const m = await scrape(s.url);
    expect(m.value('baton_slots_capacity', { pool: 'legacy' })).toBe(8);
    expect(m.value('baton_slots_used', { pool: 'legacy' })).toBe(2);
    expect(m.value('baton_slots_available', { pool: 'legacy' })).toBe(6);
    expect(m.value('baton_gpus_total', { pool: 'legacy' })).toBe(0);
    expect(m.value('baton_agents', { pool: 'legacy', state: 'connected' })).toBe(0);
    expect(m.series('baton_jobs_running')).toEqual([]);
  });
});

describe('GET /metrics access', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('needs no token where the API does, and opens nothing else', async () => {
    h = await startHarness({ agents: 0 });
    const r = await h.request('GET', '/metrics');
    expect(r.status).toBe(200);
    expect((await h.request('GET', '/api/capacity')).status).toBe(401);
    expect((await h.request('GET', '/api/queues')).status).toBe(401);
    expect((await h.get('/api/capacity', ADMIN)).status).toBe(200);
  });

  it('refuses requests that came through a proxy (X-Forwarded-*, Forwarded) with 403', async () => {
    h = await startHarness({ agents: 0 });
    const proxied: Record<string, string>[] = [
      { 'x-forwarded-for': '203.0.113.7' },
      { 'X-Forwarded-Proto': 'https' },
      { 'x-forwarded-host': 'metrics.example' },
      { forwarded: 'for=203.0.113.7' },
    ];
    for (const headers of proxied) {
      const r = await h.request('GET', '/metrics', { headers });
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
      expect(r.body.error.message).toMatch(/proxy.*Forwarded or X-Forwarded-\*/);
    }
    // With an admin token too: the refusal is about the path, not who asks.
    expect((await h.request('GET', '/metrics', { headers: { ...ADMIN, 'x-forwarded-for': '10.0.0.1' } })).status).toBe(
      403,
    );
  });

  it('is a 404 when metrics are off, and the API works as before', async () => {
    h = await startHarness({ agents: 1, metrics: false });
    expect((await h.request('GET', '/metrics')).status).toBe(404);
    const job = await h.post('/api/jobs', { task: 'demo.echo', payload: { ok: true } });
    expect((await h.waitFor(job.body.id, isFinal)).state).toBe('succeeded');
  });
});
