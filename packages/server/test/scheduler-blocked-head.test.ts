import { afterEach, describe, expect, it } from 'vitest';
import { Agent, demoTasks } from '@baton/agent';
import type { AnyTaskDefinition } from '@baton/agent';
import type { GpuDevice } from '@baton/core';
import { openStore } from '@baton/store';
import type { PendingRequest } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { Harness } from './harness.js';
import { gateTask, isFinal, startHarness } from './harness.js';

/**
 * A queue whose head is a thousand jobs that fit nowhere must still run the small jobs behind
 * them: each pass reads a bounded page, so the scheduler pages past the blocked jobs.
 */
const gpus = (n: number): GpuDevice[] =>
  Array.from({ length: n }, (_, index) => ({
    index,
    uuid: `GPU-${index}`,
    name: 'test',
    memoryMb: 80_000,
    healthy: true,
  }));

describe('jobs that fit nowhere at the head of a queue', () => {
  let h: Harness | null = null;
  afterEach(async () => {
    await h?.close();
    h = null;
  });

  const gpuAgent = async (harness: Harness, tasks: AnyTaskDefinition[] = [...demoTasks]) => {
    const agent = new Agent({ link: harness.server.localLink(), tasks, concurrency: 8, gpus: gpus(2) });
    harness.agents.push(agent);
    await agent.start();
    return agent;
  };

  it('run the small jobs behind 1 000 jobs needing more GPUs than any agent has', async () => {
    h = await startHarness({ agents: 0 });
    const big = await h.post('/api/jobs/bulk', {
      jobs: Array.from({ length: 1000 }, () => ({ task: 'demo.sleep', resources: { gpus: 4 } })),
    });
    expect(big.status).toBe(201);
    const small = await h.post('/api/jobs/bulk', {
      jobs: Array.from({ length: 20 }, (_, i) => ({ task: 'demo.echo', payload: i })),
    });
    expect(small.status).toBe(201);
    await gpuAgent(h);
    for (const { id } of small.body.jobs) {
      expect((await h.waitFor(id, isFinal, 10_000)).state).toBe('succeeded');
    }
    const first = (await h.get(`/api/jobs/${big.body.jobs[0].id}`)).body;
    expect(first).toMatchObject({ state: 'queued', pendingReason: { code: 'RESOURCES_EXCEED_AGENTS' } });
  });

  it('cost a page per wake-up, not a run of passes, once a whole round found nothing to place', async () => {
    // A store that counts pending reads (the server sees only this wrapper).
    const real = await openStore('sqlite::memory:');
    let reads = 0;
    const store = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'pending') {
          return (requests: PendingRequest[]) => {
            reads++;
            return target.pending(requests);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    await real.registerTasks(demoTasks.map((t) => ({ task: t.name, queue: t.queue })));
    const server = createBatonServer(store, { maxSweepMs: 200 });
    const url = await server.listen(0);
    const agent = new Agent({ link: server.localLink(), tasks: [...demoTasks], concurrency: 8, gpus: gpus(2) });
    await agent.start();
    const post = (path: string, body: unknown) =>
      fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      for (let i = 0; i < 2; i++) {
        await post('/api/jobs/bulk', {
          jobs: Array.from({ length: 1000 }, () => ({ task: 'demo.sleep', resources: { gpus: 4 } })),
        });
      }
      // The first round sweeps ⌈2 000 / 128⌉ pages in a run of passes, then stops; after it, a
      // wake-up (the 200 ms sweep timer here) reads one head and one page, not another round.
      await new Promise((r) => setTimeout(r, 2000));
      reads = 0;
      await new Promise((r) => setTimeout(r, 1000));
      expect(reads).toBeGreaterThan(0);
      expect(reads).toBeLessThanOrEqual(2 * 8);
    } finally {
      await agent.stop(1000);
      await server.close();
      await real.close();
    }
  });

  it('run the small jobs behind 1 000 GPU jobs waiting for GPUs held by a running job', async () => {
    h = await startHarness({ agents: 0 });
    const gate = gateTask();
    await gpuAgent(h, [...demoTasks, gate.task]);
    const holder = await h.post('/api/jobs', { task: 'test.gate', resources: { gpus: 1 } });
    await h.waitFor(holder.body.id, (j) => j.state === 'running');
    const big = await h.post('/api/jobs/bulk', {
      jobs: Array.from({ length: 1000 }, () => ({ task: 'demo.sleep', resources: { gpus: 2 } })),
    });
    const small = await h.post('/api/jobs/bulk', {
      jobs: Array.from({ length: 20 }, (_, i) => ({ task: 'demo.echo', payload: i })),
    });
    for (const { id } of small.body.jobs) {
      expect((await h.waitFor(id, isFinal, 10_000)).state).toBe('succeeded');
    }
    // The head GPU job still holds the agent: once the running job ends, it runs next.
    gate.release();
    const head = await h.waitFor(big.body.jobs[0].id, isFinal, 10_000);
    expect(head.state).toBe('succeeded');
    // It ran first of the GPU jobs: the second (2 GPUs on a 2-GPU agent) starts only once
    // the head's GPUs came back.
    const second = await h.waitFor(big.body.jobs[1].id, isFinal, 10_000);
    expect(second.state).toBe('succeeded');
    expect(Date.parse(second.startedAt)).toBeGreaterThanOrEqual(Date.parse(head.finishedAt));
  });
});
