import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, commandTask, demoTasks } from '@baton/agent';
import type { Harness } from './harness.js';
import { isFinal, startHarness } from './harness.js';

/**
 * A real preemption: a low-class command job runs on the only (preemptible) agent; a high-class
 * job arrives that fits nowhere else. The command gets SIGTERM, goes back to the queue without
 * spending an attempt, the high job runs, and the command runs again later and completes; its
 * history shows the preempted attempt.
 */
describe('preemption on a preemptible agent', () => {
  let h: Harness;
  let dir: string;
  afterEach(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (minRuntimeMs: number) => {
    dir = mkdtempSync(join(tmpdir(), 'baton-preempt-'));
    h = await startHarness({ agents: 0 });
    const agent = new Agent({
      link: h.server.localLink(),
      tasks: [...demoTasks, commandTask],
      concurrency: 1,
      preemptible: true,
      minRuntimeMs,
      preemptGraceMs: 2000,
    });
    h.agents.push(agent);
    await agent.start();
  };
  /** Sleeps until stopped the first time it runs; exits 0 at once on any later run. */
  const resumable = () => ({
    task: 'command',
    priority: 'low',
    maxAttempts: 2,
    payload: {
      argv: [
        'sh',
        '-c',
        `if [ -f "${dir}/ran" ]; then echo second; exit 0; fi; touch "${dir}/ran"; trap 'exit 143' TERM; sleep 30 & wait`,
      ],
    },
  });

  it('stops the low job for the high one, requeues it with its attempts unspent, and runs it again later', async () => {
    await start(200);
    const low = (await h.post('/api/jobs', resumable())).body.id as string;
    await h.waitFor(low, (j) => j.state === 'running');
    const high = (await h.post('/api/jobs', { task: 'demo.echo', payload: 'urgent', priority: 'high' })).body.id;
    expect(await h.waitFor(high, isFinal, 20_000)).toMatchObject({ state: 'succeeded', result: 'urgent' });
    const done = await h.waitFor(low, isFinal, 20_000);
    expect(done.state).toBe('succeeded');
    // Two hand-overs, but the preempted one was not spent: the budget grew by one.
    expect(done.attempts).toBe(2);
    expect(done.maxAttempts).toBe(3);
    expect(done.history.map((a: { outcome: string }) => a.outcome)).toEqual(['preempted', 'succeeded']);
    expect(done.history[0].error.code).toBe('PREEMPTED');
  });

  it('does not preempt a job that has run less than minRuntimeMs; the high job waits and says why', async () => {
    await start(60_000);
    const low = (await h.post('/api/jobs', resumable())).body.id as string;
    await h.waitFor(low, (j) => j.state === 'running');
    const high = (await h.post('/api/jobs', { task: 'demo.echo', payload: 'urgent', priority: 'high' })).body.id;
    const waiting = await h.waitFor(high, (j) => j.pendingReason !== null);
    expect(waiting.state).toBe('queued');
    expect(waiting.pendingReason.code).not.toBe('WAITING_FOR_PREEMPTION');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await h.get(`/api/jobs/${low}`)).body).toMatchObject({ state: 'running', attempts: 1 });
  });
});
