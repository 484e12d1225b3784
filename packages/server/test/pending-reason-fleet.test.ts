import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { dropRedisKeys } from '../../../test/networked-stores.js';
import { Agent, demoTasks } from '@baton/agent';
import type { GpuDevice } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';

/**
 * A queued job's `pendingReason` is about the fleet's agents, whichever server answers: two
 * servers on one networked store, the only agent on server A, and the reason read through B
 * is A's (not "no agent"). Jobs go to many queues, so some have their shard on A's scheduler,
 * whose last pass B cannot see: B must place them against the fleet itself.
 */
const run = randomBytes(4).toString('hex');
const BACKENDS = [
  {
    name: 'PostgreSQL',
    url: `postgres://root@127.0.0.1:5432/test?schema=pendfleet_${run}`,
    cleanup: () => {
      const drop = `DROP SCHEMA IF EXISTS pendfleet_${run} CASCADE`;
      execFileSync('psql', ['-h', '127.0.0.1', '-U', 'root', '-q', 'test', '-c', drop]);
    },
  },
  {
    name: 'Redis',
    url: `redis://127.0.0.1:6379?prefix=pendfleet_${run}`,
    cleanup: () => dropRedisKeys(`{pendfleet_${run}*`),
  },
];

const gpus = (n: number): GpuDevice[] =>
  Array.from({ length: n }, (_, index) => ({
    index,
    uuid: `GPU-${index}`,
    name: 'test',
    memoryMb: 80_000,
    healthy: true,
  }));

const QUEUES = Array.from({ length: 16 }, (_, i) => `fleet-reason-${i}`);

describe.each(BACKENDS)('pendingReason with two servers on $name', ({ url, cleanup }) => {
  const stores: Store[] = [];
  const servers: BatonServer[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop(1000)));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
    cleanup();
  });

  const start = async (options: { scheduler?: boolean } = {}) => {
    const store = await openStore(url);
    stores.push(store);
    // Reports every 200 ms (not the default 2 s), so the other server sees the agent come and go sooner.
    const server = createBatonServer(store, { insecureNoAuth: true, maxSweepMs: 200, heartbeatMs: 200, ...options });
    servers.push(server);
    return { server, url: await server.listen(0) };
  };
  const get = async (base: string, path: string) => (await fetch(base + path)).json() as Promise<any>;
  const post = async (base: string, path: string, body: unknown) =>
    (
      await fetch(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json() as Promise<any>;
  const until = async <T>(check: () => Promise<T | undefined | false>): Promise<T> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const reasonOf = async (base: string, id: string) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const job = await get(base, `/api/jobs/${id}`);
      if (job.pendingReason) return job.pendingReason as { code: string; message: string };
      if (Date.now() > deadline) throw new Error(`no pendingReason for ${id}: ${JSON.stringify(job)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('is the same through a server without the agent as through the agent’s server', async () => {
    const a = await start();
    const b = await start();
    const agent = new Agent({
      link: a.server.localLink(),
      tasks: [...demoTasks],
      queues: QUEUES,
      concurrency: 4,
      gpus: gpus(2),
      tags: ['zone:a'],
    });
    agents.push(agent);
    await agent.start();
    // B knows of the agent once A's report is in the store.
    for (const deadline = Date.now() + 10_000; ; ) {
      const fleet = await get(b.url, '/api/agents');
      if (JSON.stringify(fleet).includes(agent.id!)) break;
      if (Date.now() > deadline) throw new Error('server B never saw the agent');
      await new Promise((r) => setTimeout(r, 50));
    }
    const jobs = await post(b.url, '/api/jobs/bulk', {
      jobs: QUEUES.flatMap((queue) => [
        { task: 'demo.sleep', queue, resources: { gpus: 4 } },
        { task: 'demo.sleep', queue, constraints: { tags: ['zone:b'] } },
      ]),
    });
    const ids: string[] = jobs.jobs.map((j: { id: string }) => j.id);
    expect(ids).toHaveLength(2 * QUEUES.length);
    for (const [i, id] of ids.entries()) {
      const throughA = await reasonOf(a.url, id);
      const throughB = await reasonOf(b.url, id);
      expect(throughA.code).toBe(i % 2 === 0 ? 'RESOURCES_EXCEED_AGENTS' : 'NO_AGENT_WITH_TAGS');
      expect(throughB).toEqual(throughA);
    }
  });

  it('is about the fleet through a server started without a scheduler and without agents', async () => {
    const a = await start();
    const b = await start({ scheduler: false });
    expect(b.server.scheduler).toBeNull();
    const agent = new Agent({ link: a.server.localLink(), tasks: [...demoTasks], queues: QUEUES, gpus: gpus(2) });
    agents.push(agent);
    await agent.start();
    await until(async () => JSON.stringify(await get(b.url, '/api/agents')).includes(agent.id!));
    const tooLarge = await post(b.url, '/api/jobs', { task: 'demo.sleep', queue: QUEUES[0], resources: { gpus: 4 } });
    const wrongTags = await post(b.url, '/api/jobs', {
      task: 'demo.sleep',
      queue: QUEUES[0],
      constraints: { tags: ['zone:b'] },
    });
    expect((await reasonOf(b.url, tooLarge.id)).code).toBe('RESOURCES_EXCEED_AGENTS');
    expect((await reasonOf(b.url, wrongTags.id)).code).toBe('NO_AGENT_WITH_TAGS');
    // With the agent gone from the fleet, the same server says so: it reads the reports anew.
    await agent.stop(1000);
    agents.splice(0);
    await until(async () => !JSON.stringify(await get(b.url, '/api/agents')).includes(agent.id!));
    const alone = await until(async () => {
      const reason = await reasonOf(b.url, tooLarge.id);
      return reason.code === 'RESOURCES_EXCEED_AGENTS' ? undefined : reason;
    });
    expect(alone.code).toBe('NO_AGENT_FOR_QUEUE');
  });
});
