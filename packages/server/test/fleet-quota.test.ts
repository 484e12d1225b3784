import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { dropRedisKeys } from '../../../test/networked-stores.js';
import { Agent, demoTasks } from '@baton/agent';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';

/**
 * A running quota holds across a fleet: three servers, each with its scheduler (holding its own
 * shards of the queues) and its own agent, on one networked store. One user's jobs spread over
 * many queues, so all three schedulers place them at once; the store's `assign` refuses what
 * would take the user past `maxRunningJobs`, so together they never overshoot it.
 */
const run = randomBytes(4).toString('hex');
const ADMIN_TOKEN = `fleet-quota-admin-${run}`;
const BACKENDS = [
  {
    name: 'PostgreSQL',
    url: `postgres://root@127.0.0.1:5432/test?schema=fleetquota_${run}`,
    cleanup: () => {
      const drop = `DROP SCHEMA IF EXISTS fleetquota_${run} CASCADE`;
      execFileSync('psql', ['-h', '127.0.0.1', '-U', 'root', '-q', 'test', '-c', drop]);
    },
  },
  {
    name: 'Redis',
    url: `redis://127.0.0.1:6379?prefix=fleetquota_${run}`,
    cleanup: () => dropRedisKeys(`{fleetquota_${run}*`),
  },
];
const QUEUES = Array.from({ length: 12 }, (_, i) => `quota-q${i}`);
const MAX_RUNNING = 3;

describe.each(BACKENDS)('a running quota across three servers on $name', ({ url, cleanup }) => {
  const stores: Store[] = [];
  const servers: BatonServer[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop(1000)));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
    cleanup();
  });

  it(`never has more than maxRunningJobs (${MAX_RUNNING}) of the user's jobs leased at once`, async () => {
    const bases: string[] = [];
    for (let i = 0; i < 3; i++) {
      const store = await openStore(url);
      stores.push(store);
      const server = createBatonServer(store, { adminToken: ADMIN_TOKEN, maxSweepMs: 100, shardLeaseMs: 500 });
      servers.push(server);
      bases.push(await server.listen(0));
      const agent = new Agent({ link: server.localLink(), tasks: [...demoTasks], queues: QUEUES, concurrency: 4 });
      agents.push(agent);
      await agent.start();
    }
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const call = async (base: string, method: string, path: string, body?: unknown) => {
      const r = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as any };
    };
    expect((await call(bases[0]!, 'POST', '/api/users', { name: 'dan' })).status).toBe(201);
    expect((await call(bases[1]!, 'PUT', '/api/users/dan/quota', { maxRunningJobs: MAX_RUNNING })).status).toBe(200);
    // Every scheduler holds some shards before the jobs come.
    await expect
      .poll(async () =>
        (await call(bases[0]!, 'GET', '/api/shards')).body.leases.map((l: { owner: string }) => l.owner),
      )
      .toEqual(expect.arrayContaining(servers.map((s) => s.serverId)));

    const jobs = Array.from({ length: 36 }, (_, i) => ({
      task: 'demo.sleep',
      queue: QUEUES[i % QUEUES.length],
      payload: { ms: 40 },
    }));
    const submitted = await fetch(`${bases[2]}/api/jobs/bulk`, {
      method: 'POST',
      headers: { ...headers, 'x-baton-user': 'dan' },
      body: JSON.stringify({ jobs }),
    });
    expect(submitted.status).toBe(201);
    const ids = ((await submitted.json()) as any).jobs.map((j: { id: string }) => j.id) as string[];

    let most = 0;
    const watcher = stores[0]!;
    for (const deadline = Date.now() + 30_000; ; ) {
      const usage = await watcher.ownerUsage('dan');
      most = Math.max(most, usage.leasedJobs);
      const counts = usage.queues.reduce((sum, q) => sum + q.counts.succeeded, 0);
      if (counts === ids.length) break;
      if (Date.now() > deadline) throw new Error(`jobs did not finish: ${JSON.stringify(usage)}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(most).toBeLessThanOrEqual(MAX_RUNNING);
    // The limit was reached, not just respected by a fleet too slow to reach it.
    expect(most).toBe(MAX_RUNNING);
    // Nothing failed for it: every job ran once.
    for (const id of ids.slice(0, 5)) expect((await watcher.getJob(id))?.attempts).toBe(1);
  });
});
