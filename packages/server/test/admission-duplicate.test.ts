import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '@baton/agent';
import { gateTask, startHarness } from './harness.js';
import type { Harness } from './harness.js';
import type { Placement } from '@baton/core';
import type { Store } from '@baton/store';
import { admit } from '../src/agents/admission.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

describe('admitting offers', () => {
  it('a job offered twice while its first admission is under way is held once, and stays held while it runs', async () => {
    // No scheduler: the test makes the offers, as another server's scheduler would.
    h = await startHarness({ agents: 0, scheduler: false });
    const gate = gateTask('test.admit-gate');
    await h.store.registerTasks([{ task: 'test.admit-gate', queue: 'default' }]);
    const agent = new Agent({ link: h.server.localLink(), tasks: [gate.task], concurrency: 2 });
    h.agents.push(agent);
    await agent.start();
    const jobId = (await h.post('/api/jobs', { task: 'test.admit-gate' })).body.id as string;
    const offer = { jobId, agentId: agent.id!, gpus: [], resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 } };

    // Two admissions of one job at once, as the gateway makes them (admit, then dispatch): one
    // assigns it, the other finds it taken, and that answer comes last (a slower round trip),
    // after the job was handed to its agent.
    const sessions = new Map(h.server.gateway.agents().map((session) => [session.id, session]));
    let calls = 0;
    const slowSecond = {
      assign: async (placements: Placement[], leaseMs: number) => {
        if (++calls === 2) await new Promise((r) => setTimeout(r, 300));
        return h!.store.assign(placements, leaseMs);
      },
    } as unknown as Store;
    const admitOnce = async () => {
      const { assignments } = await admit(slowSecond, sessions as never, [offer], 10_000);
      h!.server.gateway.dispatch(assignments);
      return assignments;
    };
    const [first, second] = await Promise.all([admitOnce(), admitOnce()]);
    expect(first.length + second.length).toBe(1);
    await h.waitFor(jobId, (j) => j.state === 'running');
    const session = h.server.gateway.agents().find((s) => s.id === agent.id);
    // Still held: the losing admission did not free the room the job takes.
    expect(session?.held.has(jobId)).toBe(true);
    expect(session?.slotsUsed).toBe(1);

    gate.release();
    await h.waitFor(jobId, (j) => j.state === 'succeeded');
    const text = (await h.request('GET', '/metrics')).body as string;
    expect(text).toMatch(/^baton_jobs_finished_total\{queue="default",state="succeeded"\} 1$/m);
    expect(text).not.toContain('queue="_unknown"');
  });
});
