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
 * Preemption across servers: the scheduler runs on server A, the only (preemptible) agent is
 * on server B (which runs no scheduler). A's scheduler sees B's agent and its running jobs in
 * B's capacity report, chooses the victim, and B stops it when the store carries the word.
 */
const run = randomBytes(4).toString('hex');
const BACKENDS = [
  {
    name: 'PostgreSQL',
    url: `postgres://root@127.0.0.1:5432/test?schema=preemptfleet_${run}`,
    cleanup: () => {
      const drop = `DROP SCHEMA IF EXISTS preemptfleet_${run} CASCADE`;
      execFileSync('psql', ['-h', '127.0.0.1', '-U', 'root', '-q', 'test', '-c', drop]);
    },
  },
  {
    name: 'Redis',
    url: `redis://127.0.0.1:6379?prefix=preemptfleet_${run}`,
    cleanup: () => dropRedisKeys(`{preemptfleet_${run}*`),
  },
];

describe.each(BACKENDS)('preemption across servers on $name', ({ url, cleanup }) => {
  const stores: Store[] = [];
  const servers: BatonServer[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop(1000)));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
    cleanup();
  });

  const start = async (scheduler: boolean) => {
    const store = await openStore(url);
    stores.push(store);
    const server = createBatonServer(store, { insecureNoAuth: true, maxSweepMs: 100, heartbeatMs: 100, scheduler });
    servers.push(server);
    return { server, store, base: await server.listen(0) };
  };
  const post = async (base: string, body: unknown) =>
    (await (
      await fetch(`${base}/api/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as { id: string };
  const job = async (base: string, id: string) => (await (await fetch(`${base}/api/jobs/${id}`)).json()) as any;

  it("stops a low job on another server's preemptible agent for a high one; the low job keeps its only attempt", async () => {
    const a = await start(true);
    const b = await start(false);
    const agent = new Agent({
      link: b.server.localLink(),
      tasks: [...demoTasks],
      concurrency: 1,
      preemptible: true,
      minRuntimeMs: 100,
      preemptGraceMs: 1000,
    });
    agents.push(agent);
    await agent.start();
    // maxAttempts 1: were the preempted attempt spent, the job would fail.
    const low = await post(a.base, { task: 'demo.sleep', payload: { ms: 60_000 }, priority: 'low', maxAttempts: 1 });
    await expect.poll(async () => (await job(a.base, low.id)).state, { timeout: 15_000 }).toBe('running');
    const high = await post(a.base, { task: 'demo.echo', payload: 'urgent', priority: 'high' });
    await expect.poll(async () => (await job(a.base, high.id)).state, { timeout: 15_000 }).toBe('succeeded');
    const preempted = await job(a.base, low.id);
    expect(preempted.history[0]).toMatchObject({ outcome: 'preempted', error: { code: 'PREEMPTED' } });
    expect(preempted.maxAttempts).toBe(2);
    // It runs again (the sleep is long: it is running or about to).
    await expect.poll(async () => (await job(a.base, low.id)).state, { timeout: 15_000 }).toBe('running');
  });
});
