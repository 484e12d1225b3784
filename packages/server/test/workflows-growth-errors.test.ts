import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentLink, StepSpec } from '@baton/core';
import { Agent, WsLink, defineTask, demoTasks } from '@baton/agent';
import type { StepCredential, StepWorkflow } from '@baton/agent';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { TEST_AGENT_TOKEN } from './agent-wire-client.js';
import type { Harness, HarnessLink } from './harness.js';
import { ADMIN, startHarness } from './harness.js';

/** Handlers parked in `test.hold` until released, with their step's workflow handle, by step id. */
const held = new Map<string, { workflow: StepWorkflow; credential: StepCredential; release(): void }>();
const hold = defineTask('test.hold', async (_payload: unknown, ctx) => {
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  held.set(ctx.workflow!.step, { workflow: ctx.workflow!, credential: ctx.workflow!.credential(), release });
  const aborted = new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
  await Promise.race([gate, aborted]);
  return 'held';
});

const deep = (levels: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
};
const echo = (id: string, extra: Partial<StepSpec> = {}): StepSpec => ({ id, task: 'demo.echo', ...extra });

/** Each refusal, as an agent's `ctx.workflow.add` and `POST /api/workflows/:id/steps` see it (code, HTTP status). */
const REFUSALS: [what: string, steps: StepSpec[], code: string, status: number][] = [
  ['an id the workflow has', [echo('later')], 'DUPLICATE_STEP', 400],
  ['an id twice among the new steps', [echo('c'), echo('c')], 'DUPLICATE_STEP', 400],
  ['a need that names no step', [echo('c', { needs: ['nope'] })], 'UNKNOWN_STEP', 400],
  ['a cycle', [echo('c', { needs: ['d'] }), echo('d', { needs: ['c'] })], 'WORKFLOW_CYCLE', 400],
  ['more steps than maxSteps', [echo('c'), echo('d'), echo('e')], 'MAX_STEPS', 409],
  ['a payload nested too deeply', [echo('c', { payload: deep(70) })], 'PAYLOAD_TOO_DEEP', 400],
  ['a payload over the size limit', [echo('c', { payload: 'x'.repeat(5000) })], 'PAYLOAD_TOO_LARGE', 413],
  ['an unknown field', [{ ...echo('c'), colour: 'red' } as StepSpec], 'VALIDATION_FAILED', 400],
  ['an unknown task', [{ id: 'c', task: 'no.such-task' }], 'UNKNOWN_TASK', 400],
];

interface Setup {
  workflow: string;
  other: string;
  link: AgentLink;
  jobCount(): Promise<number>;
}

let h: Harness;
afterEach(async () => {
  for (const step of held.values()) step.release();
  await h?.close();
  held.clear();
});

/**
 * Workflow W (maxSteps 4): `grower` running (held), `later` blocked on it; workflow O: `z`
 * running (held). The agent's link is kept, to send what `ctx.workflow.add` never would.
 */
async function setUp(link: HarnessLink, logger?: Logger): Promise<Setup> {
  h = await startHarness({ agents: 0, link, maxPayloadBytes: 4096, ...(logger && { logger }) });
  const agentLink = link === 'ws' ? new WsLink({ serverUrl: h.url, token: TEST_AGENT_TOKEN }) : h.server.localLink();
  const agent = new Agent({ link: agentLink, tasks: [...demoTasks, hold], concurrency: 4 });
  h.agents.push(agent);
  await agent.start();
  const w = await h.post('/api/workflows', {
    maxSteps: 4,
    steps: [
      { id: 'grower', task: 'test.hold' },
      { id: 'later', task: 'test.hold', needs: ['grower'] },
    ],
  });
  const o = await h.post('/api/workflows', { steps: [{ id: 'z', task: 'test.hold' }] });
  await vi.waitFor(() => expect(held.has('grower') && held.has('z')).toBe(true), { timeout: 15_000, interval: 10 });
  const jobCount = async () => (await h.get('/api/jobs?limit=500')).body.jobs.length;
  return { workflow: w.body.id, other: o.body.id, link: agentLink, jobCount };
}

/** The code of the error `p` rejects with (it must reject). */
async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'expected a refusal').toBeInstanceOf(Error);
  return (err as { code?: string }).code;
}

/** A workflow as growth would change it: itself and its steps' ids (steps' own states move on). */
async function snapshot(id: string): Promise<unknown> {
  const { steps, ...workflow } = (await h.get(`/api/workflows/${id}`)).body;
  return { ...workflow, steps: steps.map((x: { step: string; jobId: string }) => [x.step, x.jobId]) };
}

const waitState = (path: string, state: string) =>
  vi.waitFor(async () => expect((await h.get(path)).body.state).toBe(state), { timeout: 15_000, interval: 10 });

describe.each<HarnessLink>(['local', 'ws'])('growing a workflow is refused, storing nothing (%s agent)', (link) => {
  it('through ctx.workflow.add and the agent link', async () => {
    const s = await setUp(link);
    const before = await snapshot(s.workflow);
    const jobs = await s.jobCount();
    const grower = held.get('grower')!;
    for (const [what, steps, code] of REFUSALS) expect(await codeOf(grower.workflow.add(steps)), what).toBe(code);
    // What the handle never sends: another workflow's step, and a lease that is not the job's.
    const other = held.get('z')!.credential;
    const foreign = { workflowId: s.workflow, jobId: other.jobId, leaseToken: other.leaseToken, steps: [echo('c')] };
    expect(await codeOf(s.link.addSteps(foreign))).toBe('NOT_A_STEP');
    expect(
      await codeOf(
        s.link.addSteps({
          workflowId: s.workflow,
          jobId: grower.credential.jobId,
          leaseToken: 'not-the-lease',
          steps: [echo('c')],
        }),
      ),
    ).toBe('STALE_LEASE');
    expect(await snapshot(s.workflow)).toEqual(before);
    expect(await s.jobCount()).toBe(jobs);
    // Two more fit maxSteps exactly.
    const added = await grower.workflow.add([echo('c'), echo('d', { needs: ['c', 'grower'] })]);
    expect(added.steps.map((x) => [x.step, x.state])).toEqual([
      ['c', 'queued'],
      ['d', 'blocked'],
    ]);
    expect(added.workflow.counts.steps).toBe(4);
    // Once its job has ended, the step's lease is gone: its handle adds nothing more, while the
    // workflow runs on (`later` is held) and once it has ended.
    grower.release();
    await waitState(`/api/jobs/${grower.credential.jobId}`, 'succeeded');
    expect(await codeOf(grower.workflow.add([echo('e')]))).toBe('FINISHED');
    const z = held.get('z')!;
    z.release();
    await waitState(`/api/workflows/${s.other}`, 'succeeded');
    expect(await codeOf(z.workflow.add([echo('y')]))).toBe('WORKFLOW_FINISHED');
  });
});

/** Sent as a command would: no bearer token, the step's job id and lease token in the body. */
const grow = (workflowId: string, body: unknown) => h.request('POST', `/api/workflows/${workflowId}/steps`, { body });

describe('POST /api/workflows/:id/steps', () => {
  it('grows the workflow on the lease alone, and refuses each bad request, storing nothing', async () => {
    // The server logs at debug level, where the lease token must never show.
    const logs: string[] = [];
    const s = await setUp('local', pino({ level: 'debug' }, { write: (line: string) => logs.push(line) }));
    const grower = held.get('grower')!.credential;
    const lease = { jobId: grower.jobId, leaseToken: grower.leaseToken };
    const before = await snapshot(s.workflow);
    const jobs = await s.jobCount();
    const refused = async (workflowId: string, body: unknown, status: number, code: string, what = code) => {
      const r = await grow(workflowId, body);
      expect([r.status, r.body?.error?.code], what).toEqual([status, code]);
      // Never echoed, whatever was wrong.
      expect(JSON.stringify(r.body)).not.toContain(grower.leaseToken);
    };
    for (const [what, steps, code, status] of REFUSALS)
      await refused(s.workflow, { ...lease, steps }, status, code, what);
    const other = held.get('z')!.credential;
    const c = [echo('c')];
    await refused(s.workflow, { jobId: other.jobId, leaseToken: other.leaseToken, steps: c }, 409, 'NOT_A_STEP');
    await refused(s.workflow, { ...lease, leaseToken: 'not-the-lease', steps: c }, 409, 'STALE_LEASE');
    await refused(s.workflow, { ...lease, steps: [] }, 400, 'VALIDATION_FAILED', 'no steps');
    await refused(s.workflow, { ...lease, steps: c, extra: 1 }, 400, 'VALIDATION_FAILED', 'an unknown field');
    await refused(s.workflow, { steps: c }, 400, 'VALIDATION_FAILED', 'no lease');
    await refused('01JDB5Q2X8W6K7C3V9M4N0P1R2', { ...lease, steps: c }, 404, 'WORKFLOW_NOT_FOUND');
    await refused('not-an-id', { ...lease, steps: c }, 400, 'INVALID_WORKFLOW_ID');
    expect(await snapshot(s.workflow)).toEqual(before);
    expect(await s.jobCount()).toBe(jobs);

    const r = await grow(s.workflow, {
      ...lease,
      steps: [echo('c', { payload: { n: 1 } }), echo('d', { needs: ['c'] })],
    });
    expect(r.status).toBe(201);
    expect(r.body.workflow).toMatchObject({ id: s.workflow, counts: { steps: 4 } });
    expect(r.body.steps.map((x: any) => [x.step, x.state])).toEqual([
      ['c', 'queued'],
      ['d', 'blocked'],
    ]);
    expect(r.body.steps[0]).toMatchObject({ task: 'demo.echo', needs: [], jobId: expect.any(String) });
    // The new steps are the workflow's owner's jobs, and run: d gets c's result.
    await waitState(`/api/jobs/${r.body.steps[1].jobId}`, 'succeeded');
    expect((await h.get(`/api/jobs/${r.body.steps[1].jobId}`)).body).toMatchObject({
      owner: 'admin',
      inputs: { c: { n: 1 } },
    });
    // Once the step has ended its lease is no credential; a user's token is none either.
    held.get('grower')!.release();
    await waitState(`/api/jobs/${grower.jobId}`, 'succeeded');
    await refused(s.workflow, { ...lease, steps: [echo('e')] }, 409, 'FINISHED');
    const withToken = await h.post(`/api/workflows/${s.workflow}/steps`, { ...lease, steps: [echo('e')] });
    expect([withToken.status, withToken.body.error.code]).toEqual([409, 'FINISHED']);
    held.get('z')!.release();
    await waitState(`/api/workflows/${s.other}`, 'succeeded');
    await refused(s.other, { jobId: other.jobId, leaseToken: other.leaseToken, steps: c }, 409, 'WORKFLOW_FINISHED');
    expect(logs.length).toBeGreaterThan(0);
    for (const token of [grower.leaseToken, other.leaseToken]) expect(logs.join('\n')).not.toContain(token);
  });

  it('counts added steps against the workflow owner’s maxQueuedJobs, as submitted ones', async () => {
    h = await startHarness({ agents: 0, link: 'local' });
    await h.addAgent({ tasks: [hold], concurrency: 1 });
    expect((await h.post('/api/users', { name: 'flo' })).status).toBe(201);
    expect(
      (await h.request('PUT', '/api/users/flo/quota', { body: { maxQueuedJobs: 3 }, headers: ADMIN })).status,
    ).toBe(200);
    const w = await h.post(
      '/api/workflows',
      { steps: [{ id: 'grower', task: 'test.hold' }] },
      { 'x-baton-user': 'flo' },
    );
    await vi.waitFor(() => expect(held.has('grower')).toBe(true), { timeout: 15_000, interval: 10 });
    const grower = held.get('grower')!;
    const lease = { jobId: grower.credential.jobId, leaseToken: grower.credential.leaseToken };
    // The grower runs, so flo has nothing waiting: three steps fit, a fourth does not.
    const four = await grow(w.body.id, { ...lease, steps: ['a', 'b', 'c', 'd'].map((id) => echo(id)) });
    expect([four.status, four.body.error.code]).toEqual([429, 'QUOTA_EXCEEDED']);
    expect((await snapshot(w.body.id)) as { counts: { steps: number } }).toMatchObject({ counts: { steps: 1 } });
    const three = await grow(w.body.id, { ...lease, steps: ['a', 'b', 'c'].map((id) => echo(id)) });
    expect(three.status).toBe(201);
    expect(three.body.steps.map((x: any) => x.jobId)).toHaveLength(3);
    expect((await h.get(`/api/jobs/${three.body.steps[0].jobId}`)).body.owner).toBe('flo');
    expect(await codeOf(grower.workflow.add([echo('e')]))).toBe('QUOTA_EXCEEDED');
  });
});
