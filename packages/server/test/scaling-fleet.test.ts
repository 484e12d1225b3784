import { afterAll, describe, expect, it } from 'vitest';
import { Agent, demoTasks } from '@baton/agent';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '../src/index.js';
import type { BatonServer } from '../src/index.js';
import { parseConfigText } from '../src/scaling/config-file.js';
import { networkedStores } from '../../../test/networked-stores.js';
import { ADMIN, TEST_ADMIN_TOKEN } from './harness.js';

const config = parseConfigText(`
pools:
  burst:
    queues: [burst]
    tasks: [demo.sleep]
    max: 10
    slotsPerAgent: 2
`);

describe.each(networkedStores('scaling_fleet'))('scaling decisions from two servers on $name', (backend) => {
  const stores: Store[] = [];
  const servers: BatonServer[] = [];
  const agents: Agent[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop(1000)));
    for (const s of servers) await s.close();
    for (const s of stores) await s.close();
    backend.cleanup();
  });

  it('agree: the backlog is the store’s and the agents are every server’s', async () => {
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const store = await openStore(backend.url);
      stores.push(store);
      // Reports every 200 ms (not the default 2 s), so each server sees the other's agents sooner.
      const server = createBatonServer(store, {
        adminToken: TEST_ADMIN_TOKEN,
        scalingConfig: config,
        maxSweepMs: 200,
        heartbeatMs: 200,
      });
      servers.push(server);
      urls.push(await server.listen(0));
    }
    const [a, b] = servers as [BatonServer, BatonServer];
    // One agent of the pool on each server, two slots each, and 9 jobs of 60 s: 4 run, 5 wait.
    for (const server of servers) {
      const agent = new Agent({
        link: server.localLink(),
        tasks: demoTasks,
        concurrency: 2,
        pool: 'burst',
        queues: ['burst'],
      });
      agents.push(agent);
      await agent.start();
    }
    for (let i = 0; i < 9; i++) {
      const r = await fetch(`${urls[i % 2]}/api/jobs`, {
        method: 'POST',
        headers: { ...ADMIN, 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'demo.sleep', queue: 'burst', payload: { ms: 60_000 } }),
      });
      expect(r.status).toBe(201);
    }
    let last: unknown = null;
    const settled = async () => {
      const [x, y] = await Promise.all([a.scaling.sync(), b.scaling.sync()]);
      const px = x.pools[0];
      const py = y.pools[0];
      last = [px, py];
      // Settled once both agents hold their 4 jobs: with 200 ms reports a decision can come while
      // the fourth job is still between queued and running.
      const done = (p: typeof px) => p?.current === 2 && p.load === 9 && p.pendingJobs === 5;
      return done(px) && done(py) ? ([px!, py!] as const) : null;
    };
    const deadline = Date.now() + 60_000;
    let both = await settled();
    while (!both && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      both = await settled();
    }
    expect(both, JSON.stringify(last)).not.toBeNull();
    const [fromA, fromB] = both!;
    expect(fromA).toMatchObject({ current: 2, pendingJobs: 5, load: 9, drain: [] });
    expect(fromB).toMatchObject({ current: 2, pendingJobs: 5, load: 9, drain: [] });
    // 9 slots / (2 × 0.8) → 6 agents; but each server scaled this pool from zero when the jobs
    // came, and within 15 s of that the HPA's policies allow no more than their limit (+4 pods
    // or +100 % from the period's start). Each server keeps its own policy periods, starting when
    // it first saw the jobs, so under load one may be a period ahead of the other: each decision
    // is 6 or says which limit held it, from the same inputs (checked above).
    for (const p of [fromA, fromB]) {
      if (p.desired === 6) continue;
      expect(p.desired).toBeGreaterThanOrEqual(4);
      expect(p.desired).toBeLessThan(6);
      expect(p.reason).toContain(`limited to ${p.desired} by the scale-up policy`);
    }
  }, 90_000);
});
