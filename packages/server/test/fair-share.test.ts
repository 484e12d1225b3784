import { afterEach, describe, expect, it } from 'vitest';
import { Agent, defineTask, demoTasks } from '@baton/agent';
import type { Harness } from './harness.js';
import { startHarness } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * The bound, on a real server: with equal weights and no history, a user who submits
 * 10 jobs after another queued 10 000 of the same shape gets all 10 started within the next 20
 * slot releases.
 */
describe('fair share between users', () => {
  let h: Harness;
  afterEach(async () => h.close());

  const run = async (fairShare: boolean) => {
    h = await startHarness({ agents: 0, fairShare });
    const started: { id: string; at: number }[] = [];
    // A short job that records when it started, in the order the agent started them.
    const task = defineTask('test.short', async (_p: unknown, ctx) => {
      started.push({ id: ctx.job.id, at: Date.now() });
      await new Promise((r) => setTimeout(r, 15));
      return null;
    });
    const agent = new Agent({ link: h.server.localLink(), tasks: [...demoTasks, task], concurrency: 2 });
    h.agents.push(agent);
    await h.store.registerTasks([{ task: 'test.short', queue: 'default' }]);
    for (const name of ['ann', 'ben']) await h.post('/api/users', { name });
    const ann = bearer((await h.post('/api/users/ann/tokens', {})).body.token);
    const ben = bearer((await h.post('/api/users/ben/tokens', {})).body.token);
    const job = { task: 'test.short', payload: {} };
    for (let i = 0; i < 10; i++) {
      const r = await h.post('/api/jobs/bulk', { jobs: Array.from({ length: 1000 }, () => job) }, ann);
      expect(r.status).toBe(201);
    }
    await agent.start();
    // Ann's backlog is running when Ben comes.
    await expect.poll(() => started.length, { timeout: 10_000 }).toBeGreaterThan(20);
    const before = started.length;
    const bens: string[] = (
      await h.post('/api/jobs/bulk', { jobs: Array.from({ length: 10 }, () => job) }, ben)
    ).body.jobs.map((j: { id: string }) => j.id);
    return { started, before, bens };
  };

  it('starts all 10 of a late user’s jobs within the next 20 slot releases after a 10 000-job backlog', async () => {
    const { started, before, bens } = await run(true);
    await expect.poll(() => bens.every((id) => started.some((s) => s.id === id)), { timeout: 20_000 }).toBe(true);
    const lastBen = Math.max(...bens.map((id) => started.findIndex((s) => s.id === id)));
    // Starts after Ben's submission up to his last: his 10 and at most 10 of Ann's, plus what
    // was already being handed over when he submitted (one per slot).
    expect(lastBen - before + 1).toBeLessThanOrEqual(20 + 2);
  });

  it('without fair share, the late user waits behind the backlog (the bound is fair share’s doing)', async () => {
    const { started, before, bens } = await run(false);
    await expect.poll(() => started.length - before, { timeout: 20_000 }).toBeGreaterThan(60);
    expect(bens.some((id) => started.some((s) => s.id === id))).toBe(false);
  });
});
