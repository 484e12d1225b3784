import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ADDED_STEPS } from '@baton/core';
import { WsLink } from '@baton/agent';
import { TEST_AGENT_TOKEN, WireAgent } from './agent-wire-client.js';
import type { Harness } from './harness.js';
import { startHarness } from './harness.js';

const WORKFLOW = '01JDB5Q2X8W6K7C3V9M4N0P1R2';
const JOB = '01JDB5Q2X8W6K7C3V9M4N0P1R3';
const good = { workflowId: WORKFLOW, jobId: JOB, leaseToken: 'lease', steps: [{ id: 'a', task: 'demo.echo' }] };

/** The wire's `addSteps` request: shape-checked like every agent message, within the frame limits. */
describe('agent wire: addSteps', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('refuses a malformed request before anything is read, and answers a good one with the store’s refusal', async () => {
    h = await startHarness({ agents: 0, link: 'ws' });
    const agent = await WireAgent.connect(h.url);
    try {
      expect((await agent.register()).ok).toBe(true);
      const invalid = async (request: Record<string, unknown>, message?: RegExp) => {
        const reply = await agent.request({ t: 'addSteps', ...request } as never);
        expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_AGENT_MESSAGE' } });
        if (message) expect(reply.error.message).toMatch(message);
      };
      await invalid({ ...good, colour: 'red' });
      await invalid({ ...good, workflowId: 'not-an-id' });
      await invalid({ ...good, leaseToken: 7 });
      await invalid({ ...good, steps: [] });
      await invalid({ ...good, steps: 'a' });
      const { leaseToken: _l, ...noLease } = good;
      await invalid(noLease);
      // A list past the limit is refused by its length, before the schema looks at its entries.
      await invalid({ ...good, steps: new Array(MAX_ADDED_STEPS + 1).fill(0) }, /steps holds 10001 entries/);
      const reply = await agent.request({ t: 'addSteps', ...good });
      expect(reply).toMatchObject({ ok: false, error: { code: 'WORKFLOW_NOT_FOUND' } });
    } finally {
      agent.ws.close();
    }
  });

  it('fails a request too large for a frame at the agent, without sending it', async () => {
    h = await startHarness({ agents: 0, link: 'ws' });
    const link = new WsLink({ serverUrl: h.url, token: TEST_AGENT_TOKEN });
    await link.register({ queues: ['default'], tasks: [], slots: 1 }, { deliver() {}, abort() {}, held: () => [] });
    try {
      const mib = 'x'.repeat(1024 * 1024);
      const steps = Array.from({ length: 9 }, (_, i) => ({ id: `s${i}`, task: 'demo.echo', payload: mib }));
      const err = await link.addSteps({ ...good, steps }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNSENDABLE_REQUEST' });
      expect((err as Error).message).toMatch(/addSteps request cannot be sent: .*frame limit/);
      // The connection stayed up: the next request is answered.
      await expect(link.addSteps(good)).rejects.toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
    } finally {
      link.close();
    }
  });
});
