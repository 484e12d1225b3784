import { afterEach, describe, expect, it } from 'vitest';
import type { AgentLink } from '@baton/core';
import { Agent } from '@baton/agent';
import { defineTask } from '../src/task.js';
import type { Harness } from '../../server/test/harness.js';
import { isFinal, startHarness } from '../../server/test/harness.js';

describe('a handler that ignores its abort signal', () => {
  let h: Harness | null = null;
  afterEach(async () => {
    await h?.close();
    h = null;
  });

  // A link that cannot report lingering handlers (a custom one): the server does not know of them.
  it('keeps its slot after a cancel until it returns: the agent starts nothing else meanwhile', async () => {
    h = await startHarness({ agents: 0 });
    let letGo: () => void = () => {};
    const returned = new Promise<void>((resolve) => (letGo = resolve));
    const started: string[] = [];
    // Never looks at ctx.signal: runs on after its job is cancelled.
    const stubborn = defineTask('test.stubborn', async (_p: unknown, ctx) => {
      started.push(ctx.job.id);
      await returned;
      return 'late';
    });
    const next = defineTask('test.next', async (_p: unknown, ctx) => {
      started.push(ctx.job.id);
      return 'ran';
    });
    await h.store.registerTasks([
      { task: 'test.stubborn', queue: 'default' },
      { task: 'test.next', queue: 'default' },
    ]);
    const { lingering: _lingering, ...unreporting } = h.server.localLink();
    const link: AgentLink = unreporting;
    const agent = new Agent({ link, tasks: [stubborn, next], concurrency: 1 });
    h.agents.push(agent);
    await agent.start();

    const first = await h.post('/api/jobs', { task: 'test.stubborn' });
    await h.waitFor(first.body.id, (j) => j.state === 'running');
    expect((await h.post(`/api/jobs/${first.body.id}/cancel`)).status).toBe(200);
    await h.waitFor(first.body.id, (j) => j.state === 'cancelled');
    const second = await h.post('/api/jobs', { task: 'test.next' });

    // The server, told the outcome, hands the slot on; the agent holds the job back.
    await h.waitFor(second.body.id, (j) => j.state !== 'queued');
    await new Promise((r) => setTimeout(r, 500));
    expect(started).toEqual([first.body.id]);
    expect(agent.lingering).toEqual([first.body.id]);
    expect((await h.get(`/api/jobs/${second.body.id}`)).body.state).toBe('assigned');

    letGo();
    expect(await h.waitFor(second.body.id, isFinal)).toMatchObject({ state: 'succeeded', result: 'ran', attempts: 1 });
    expect(started).toEqual([first.body.id, second.body.id]);
    expect(agent.lingering).toEqual([]);
  });

  it('reported to the server keeps its slot there too: new work stays queued until it returns', async () => {
    h = await startHarness({ agents: 0 });
    let letGo: () => void = () => {};
    const returned = new Promise<void>((resolve) => (letGo = resolve));
    const stubborn = defineTask('test.stubborn', async () => {
      await returned;
      return 'late';
    });
    await h.store.registerTasks([{ task: 'test.stubborn', queue: 'default' }]);
    const agent = await h.addAgent({ concurrency: 1, tasks: [stubborn] });

    const first = await h.post('/api/jobs', { task: 'test.stubborn' });
    await h.waitFor(first.body.id, (j) => j.state === 'running');
    expect((await h.post(`/api/jobs/${first.body.id}/cancel`)).status).toBe(200);
    await h.waitFor(first.body.id, (j) => j.state === 'cancelled');
    const second = await h.post('/api/jobs', { task: 'demo.echo', payload: 2 });
    const waiting = await h.waitFor(second.body.id, (j) => j.pendingReason !== null);
    expect(waiting.pendingReason.code).toBe('WAITING_FOR_CAPACITY');
    await new Promise((r) => setTimeout(r, 300));
    expect((await h.get(`/api/jobs/${second.body.id}`)).body.state).toBe('queued');
    expect(agent.lingering).toEqual([first.body.id]);

    letGo();
    expect(await h.waitFor(second.body.id, isFinal)).toMatchObject({ state: 'succeeded', result: 2 });
    expect(agent.lingering).toEqual([]);
  });
});
