import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { PayloadsOf } from '@baton/agent';
import type { demoTasks } from '@baton/agent';
import { BatonApiError, BatonClient, defineWorkflow } from '@baton/client';
import type { WorkflowRequest } from '@baton/client';
import type { Harness } from '../../server/test/harness.js';
import { startHarness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';

type Demo = PayloadsOf<typeof demoTasks>;

describe('defineWorkflow', () => {
  it('builds the JSON body, steps in order, needs copied', () => {
    const pages = [1, 2].map((p) => `ocr-${p}` as const);
    const body = defineWorkflow<Demo>({ name: 'scan', onFailure: 'continue' })
      .step('extract', { task: 'demo.extract', payload: { pages: 2 } })
      .fanOut(pages, (_id, i) => ({ task: 'demo.ocr', payload: { page: i + 1 }, needs: ['extract'] }))
      .step('index', { task: 'demo.index', needs: pages, maxAttempts: 2 })
      .build();
    expect(body).toEqual({
      name: 'scan',
      onFailure: 'continue',
      steps: [
        { id: 'extract', task: 'demo.extract', payload: { pages: 2 } },
        { id: 'ocr-1', task: 'demo.ocr', payload: { page: 1 }, needs: ['extract'] },
        { id: 'ocr-2', task: 'demo.ocr', payload: { page: 2 }, needs: ['extract'] },
        { id: 'index', task: 'demo.index', needs: ['ocr-1', 'ocr-2'], maxAttempts: 2 },
      ],
    });
    expectTypeOf(body).toEqualTypeOf<WorkflowRequest>();
  });

  it('refuses at build time what it can check: unknown needs, reused ids, wrong payloads', () => {
    type Registry = { 'demo.sleep': { ms?: number } | null; 'demo.echo': unknown };
    // Never called: tsc (tsconfig.test.json) checks these lines.
    const compileOnly = () => {
      const wf = defineWorkflow<Registry>().step('a', { task: 'demo.sleep', payload: { ms: 1 } });
      // @ts-expect-error "z" is not a step declared before
      wf.step('b', { task: 'demo.echo', needs: ['z'] });
      // @ts-expect-error "a" is used already
      wf.step('a', { task: 'demo.echo' });
      // @ts-expect-error payload of the wrong type for demo.sleep
      wf.step('c', { task: 'demo.sleep', payload: { ms: 'soon' } });
      // @ts-expect-error no such task in the registry
      wf.step('d', { task: 'demo.nope' });
    };
    void compileOnly;
  });

  it('refuses at run time what dynamic ids hide: a reused id, a need not declared before, no steps', () => {
    const id = (s: string): string => s;
    const wf = defineWorkflow().step(id('a'), { task: 'x' });
    expect(() => wf.step(id('a'), { task: 'x' })).toThrow('step id "a" is used twice');
    expect(() => wf.step(id('b'), { task: 'x', needs: [id('c')] })).toThrow(
      'step "b" needs "c", which is not declared before it',
    );
    expect(() => defineWorkflow().build()).toThrow('a workflow needs at least one step');
  });
});

describe('BatonClient workflows against a real server', () => {
  let h: Harness;
  let baton: BatonClient<Demo>;
  beforeAll(async () => {
    h = await startHarness();
    baton = new BatonClient({ baseUrl: h.url, user: 'sdk-user', token: TEST_ADMIN_TOKEN });
  });
  afterAll(() => h.close());

  it('submits a built workflow, waits for it seeing steps advance, and reads it back', async () => {
    const body = defineWorkflow<Demo>({ name: 'sdk-pipeline' })
      .step('extract', { task: 'demo.extract', payload: { pages: 2, ms: 0 } })
      .fanOut(['ocr-1', 'ocr-2'] as const, (_id, i) => ({
        task: 'demo.ocr',
        payload: { page: i + 1, ms: 0 },
        needs: ['extract'],
      }))
      .step('index', { task: 'demo.index', payload: { ms: 0 }, needs: ['ocr-1', 'ocr-2'] })
      .build();
    const submitted = await baton.submitWorkflow(body);
    expect(submitted).toMatchObject({ name: 'sdk-pipeline', owner: 'sdk-user', state: 'running', created: true });
    // The SDK keyed it (retries are on), so a repeat of the same call would find it.
    expect(submitted.idempotencyKey).toMatch(/^sdk-/);
    const updates: string[] = [];
    const done = await baton.waitForWorkflow(submitted.id, { pollMs: 20, onUpdate: (w) => updates.push(w.state) });
    expect(done).toMatchObject({ state: 'succeeded', counts: { steps: 4, succeeded: 4 } });
    expect(done.steps.map((s) => [s.step, s.state])).toEqual([
      ['extract', 'succeeded'],
      ['ocr-1', 'succeeded'],
      ['ocr-2', 'succeeded'],
      ['index', 'succeeded'],
    ]);
    expect(updates.length).toBeGreaterThan(0);
    const index = await baton.getJob(done.steps[3]!.jobId);
    expect(index.workflow).toEqual({ id: submitted.id, step: 'index', needs: ['ocr-1', 'ocr-2'] });
    expect(Object.keys(index.inputs ?? {})).toEqual(['ocr-1', 'ocr-2']);
    const page = await baton.getWorkflow(submitted.id, { stepsLimit: 3 });
    expect(page.steps).toHaveLength(3);
    const rest = await baton.getWorkflow(submitted.id, { stepsLimit: 3, stepsCursor: page.stepsCursor! });
    expect(rest.steps.map((s) => s.step)).toEqual(['index']);
    expect(rest.stepsCursor).toBeNull();
    const listed = await baton.listWorkflows({ state: 'succeeded' });
    expect(listed.workflows.map((w) => w.id)).toContain(submitted.id);

    const retried = await baton.retryWorkflow(submitted.id, 'index');
    expect(retried.state).toBe('running');
    expect((await baton.waitForWorkflow(submitted.id, { pollMs: 20 })).state).toBe('succeeded');
  });

  it('cancels a workflow, and says why it cannot twice', async () => {
    const w = await baton.submitWorkflow({ steps: [{ id: 'wait', task: 'demo.sleep', payload: { ms: 60_000 } }] });
    const cancelled = await baton.cancelWorkflow(w.id);
    expect(cancelled.state).toBe('cancelled');
    const again = await baton.cancelWorkflow(w.id).catch((err: unknown) => err);
    expect(again).toBeInstanceOf(BatonApiError);
    expect(again).toMatchObject({ status: 409, code: 'WORKFLOW_FINISHED' });
  });

  it('raises the server’s validation error naming the step', async () => {
    const err = await baton
      .submitWorkflow({
        steps: [
          { id: 'a', task: 'demo.echo', needs: ['b'] },
          { id: 'b', task: 'demo.echo', needs: ['a'] },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'WORKFLOW_CYCLE' });
    expect((err as Error).message).toMatch(/cycle/);
    const missing = await baton.getWorkflow('01JDB5Q2X8W6K7C3V9M4N0P1R2').catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: 'WORKFLOW_NOT_FOUND' });
  });
});
