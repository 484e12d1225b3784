import { afterEach, describe, expect, it, vi } from 'vitest';
import { commandTask } from '@baton/agent';
import type { Harness, HarnessLink } from './harness.js';
import { startHarness } from './harness.js';

/**
 * What a command step runs to grow its workflow: `POST $BATON_API_URL/api/workflows/
 * $BATON_WORKFLOW_ID/steps` with its job id and lease token from the environment, adding a
 * `report` step that needs it. Prints the answer's status and step ids.
 */
const GROW = `
const e = process.env;
const r = await fetch(e.BATON_API_URL + '/api/workflows/' + e.BATON_WORKFLOW_ID + '/steps', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    jobId: e.BATON_JOB_ID,
    leaseToken: e.BATON_LEASE_TOKEN,
    steps: [{ id: 'report', task: 'demo.echo', payload: { from: e.BATON_WORKFLOW_STEP }, needs: [e.BATON_WORKFLOW_STEP] }],
  }),
});
const body = await r.json();
console.log(JSON.stringify({ status: r.status, steps: (body.steps ?? []).map((s) => s.step), error: body.error?.code }));
if (r.status !== 201) process.exit(1);
`;

describe.each<HarnessLink>(['local', 'ws'])('a command step grows its workflow over HTTP (%s agent)', (link) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('with BATON_JOB_ID, BATON_LEASE_TOKEN and BATON_API_URL', async () => {
    h = await startHarness({ agents: 0, link });
    // A remote agent gives its server's URL; an in-process one the URL it is given (baton dev: its own).
    await h.addAgent({ tasks: [commandTask], ...(link === 'local' && { apiUrl: h.url }) });
    const r = await h.post('/api/workflows', {
      steps: [
        { id: 'grow', task: 'command', payload: { argv: [process.execPath, '--input-type=module', '-e', GROW] } },
      ],
    });
    expect(r.status).toBe(201);
    let w: any;
    await vi.waitFor(
      async () => {
        w = (await h.get(`/api/workflows/${r.body.id}`)).body;
        expect(w.state).not.toBe('running');
      },
      { timeout: 30_000, interval: 25 },
    );
    const steps = Object.fromEntries(w.steps.map((s: any) => [s.step, s]));
    const grow = (await h.get(`/api/jobs/${steps.grow.jobId}`)).body;
    expect(JSON.parse(grow.result?.stdoutTail ?? grow.error?.message)).toEqual({ status: 201, steps: ['report'] });
    expect(w).toMatchObject({ state: 'succeeded', counts: { steps: 2, succeeded: 2 } });
    // The added step ran after the command, with the command's result as its input.
    const report = (await h.get(`/api/jobs/${steps.report.jobId}`)).body;
    expect(report).toMatchObject({ result: { from: 'grow' }, inputs: { grow: { exitCode: 0 } } });
  });
});
