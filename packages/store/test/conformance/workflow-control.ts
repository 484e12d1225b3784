import { describe, expect, it, vi } from 'vitest';
import { ConflictError, NotFoundError } from '@baton/core';
import type { StoreEvent } from '@baton/store';
import type { Fixture } from './fixture.js';
import { UNKNOWN_ID, rejection } from './fixture.js';
import { createWorkflow, failStep, startStep, stepStates, succeedStep } from './workflow-fixture.js';

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5000, interval: 5 });

/** 25: workflows — cancel, retry, listing, retention. */
export function workflowControlTests(f: () => Fixture): void {
  describe('workflows: cancel', () => {
    it('cancels every unfinished step at once and tells running steps’ agents', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b', ['a']], ['c'], ['d', ['c']]]);
      await succeedStep(x, jobs.c!);
      await startStep(x, jobs.a!, 'agent-3');
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        x.advance(7);
        const cancelled = await x.store.cancelWorkflow(workflow.id);
        expect(cancelled).toMatchObject({
          id: workflow.id,
          state: 'cancelled',
          finishedAt: x.now,
          counts: { steps: 4, succeeded: 1, cancelled: 3, failed: 0, skipped: 0 },
        });
        expect(await x.store.getWorkflow(workflow.id)).toEqual(cancelled);
        expect(await stepStates(x, jobs)).toEqual({ a: 'cancelled', b: 'cancelled', c: 'succeeded', d: 'cancelled' });
        expect(await x.store.getJob(jobs.b!)).toMatchObject({ error: { code: 'WORKFLOW_CANCELLED' } });
        await waitFor(() => expect(events).toContainEqual({ type: 'cancelled', jobId: jobs.a, agentId: 'agent-3' }));
      } finally {
        unsubscribe();
      }
    });

    it('refuses an ended workflow with WORKFLOW_FINISHED and an unknown one with WORKFLOW_NOT_FOUND', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a']]);
      await succeedStep(x, jobs.a!);
      const before = await x.store.getWorkflow(workflow.id);
      const finished = await rejection(x.store.cancelWorkflow(workflow.id));
      expect(finished).toBeInstanceOf(ConflictError);
      expect(finished.code).toBe('WORKFLOW_FINISHED');
      expect(await x.store.getWorkflow(workflow.id)).toEqual(before);
      const unknown = await rejection(x.store.cancelWorkflow(UNKNOWN_ID));
      expect(unknown).toBeInstanceOf(NotFoundError);
      expect(unknown.code).toBe('WORKFLOW_NOT_FOUND');
      expect(await x.store.getWorkflow(UNKNOWN_ID)).toBeNull();
      expect(await x.store.workflowSteps(UNKNOWN_ID, { limit: 5 })).toEqual([]);
    });
  });

  describe('workflows: retry', () => {
    it('re-runs the failed steps and their dependents only; the rest keep their one attempt and result', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(
        x,
        [['a', [], { maxAttempts: 1 }], ['b', ['a']], ['c', ['b', 'd']], ['d'], ['e', ['d']]],
        { onFailure: 'continue' },
      );
      await succeedStep(x, jobs.d!, 'dee');
      await succeedStep(x, jobs.e!, 'ee');
      await failStep(x, jobs.a!);
      expect((await x.store.getWorkflow(workflow.id))?.state).toBe('failed');
      x.advance(10);
      const retried = await x.store.retryWorkflow(workflow.id);
      expect(retried).toMatchObject({
        state: 'running',
        finishedAt: null,
        counts: { steps: 5, succeeded: 2, failed: 0, skipped: 0, cancelled: 0 },
      });
      expect(await stepStates(x, jobs)).toEqual({
        a: 'queued',
        b: 'blocked',
        c: 'blocked',
        d: 'succeeded',
        e: 'succeeded',
      });
      expect(await x.store.getJob(jobs.a!)).toMatchObject({ error: null, result: null, finishedAt: null, attempts: 1 });
      // A fresh budget: a step of maxAttempts 1 runs once more.
      await succeedStep(x, jobs.a!, 'aa');
      await succeedStep(x, jobs.b!, 'bb');
      expect((await x.store.getJob(jobs.c!))?.inputs).toEqual({ b: 'bb', d: 'dee' });
      await succeedStep(x, jobs.c!);
      expect(await x.store.getWorkflow(workflow.id)).toMatchObject({
        state: 'succeeded',
        counts: { steps: 5, succeeded: 5 },
      });
      expect((await x.store.getJob(jobs.a!))?.attempts).toBe(2);
      for (const untouched of [jobs.d!, jobs.e!]) {
        expect(await x.store.getAttempts(untouched)).toHaveLength(1);
      }
      expect((await x.store.getJob(jobs.d!))?.result).toBe('dee');
    });

    it('re-runs from a named step of a succeeded workflow, reusing the results before it', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b', ['a']], ['c', ['b']], ['side', ['a']]]);
      await succeedStep(x, jobs.a!, 1);
      await succeedStep(x, jobs.side!, 's');
      await succeedStep(x, jobs.b!, 2);
      await succeedStep(x, jobs.c!, 3);
      expect((await x.store.getWorkflow(workflow.id))?.state).toBe('succeeded');
      await x.store.retryWorkflow(workflow.id, 'b');
      expect(await stepStates(x, jobs)).toEqual({ a: 'succeeded', b: 'queued', c: 'blocked', side: 'succeeded' });
      expect((await x.store.getJob(jobs.b!))?.inputs).toEqual({ a: 1 });
      expect((await x.store.getJob(jobs.c!))?.result).toBeNull();
      await succeedStep(x, jobs.b!, 22);
      expect((await x.store.getJob(jobs.c!))?.inputs).toEqual({ b: 22 });
      await succeedStep(x, jobs.c!);
      expect((await x.store.getWorkflow(workflow.id))?.state).toBe('succeeded');
      expect(await x.store.getAttempts(jobs.a!)).toHaveLength(1);
      expect(await x.store.getAttempts(jobs.b!)).toHaveLength(2);
    });

    it('retries a cancelled workflow', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b', ['a']]]);
      await x.store.cancelWorkflow(workflow.id);
      await x.store.retryWorkflow(workflow.id);
      expect(await stepStates(x, jobs)).toEqual({ a: 'queued', b: 'blocked' });
      await succeedStep(x, jobs.a!);
      await succeedStep(x, jobs.b!);
      expect((await x.store.getWorkflow(workflow.id))?.state).toBe('succeeded');
    });

    it('refuses what it cannot do, changing nothing', async () => {
      const x = f();
      const running = await createWorkflow(x, [['a'], ['b', ['a']]]);
      const codeOf = async (p: Promise<unknown>) => (await rejection(p)).code;
      expect(await codeOf(x.store.retryWorkflow(running.workflow.id))).toBe('WORKFLOW_RUNNING');
      expect(await codeOf(x.store.retryWorkflow(UNKNOWN_ID))).toBe('WORKFLOW_NOT_FOUND');

      const done = await createWorkflow(x, [['a']]);
      await succeedStep(x, done.jobs.a!);
      expect(await codeOf(x.store.retryWorkflow(done.workflow.id))).toBe('NOTHING_TO_RETRY');
      expect(await codeOf(x.store.retryWorkflow(done.workflow.id, 'nope'))).toBe('STEP_NOT_FOUND');

      const failed = await createWorkflow(x, [['a'], ['b', ['a']], ['c']], { onFailure: 'continue' });
      await failStep(x, failed.jobs.a!);
      await succeedStep(x, failed.jobs.c!);
      const before = await x.store.getWorkflow(failed.workflow.id);
      const err = await rejection(x.store.retryWorkflow(failed.workflow.id, 'b'));
      expect(err).toBeInstanceOf(ConflictError);
      expect(err).toMatchObject({ code: 'NEED_UNSUCCESSFUL', details: { step: 'b', need: 'a' } });
      expect(await x.store.getWorkflow(failed.workflow.id)).toEqual(before);
      expect(await stepStates(x, failed.jobs)).toEqual({ a: 'failed', b: 'skipped', c: 'succeeded' });
    });
  });

  describe('workflows: listing and retention', () => {
    it('lists newest first, by state and owner, a page at a time', async () => {
      const x = f();
      const one = await createWorkflow(x, [['a']]);
      x.advance(1);
      const two = await createWorkflow(x, [['a']]);
      x.advance(1);
      const three = await createWorkflow(x, [['a']]);
      await succeedStep(x, two.jobs.a!);
      const first = await x.store.listWorkflows({ limit: 2 });
      expect(first.workflows.map((w) => w.id)).toEqual([three.workflow.id, two.workflow.id]);
      expect(first.nextCursor).not.toBeNull();
      const second = await x.store.listWorkflows({ limit: 2, cursor: first.nextCursor! });
      expect(second).toEqual({ workflows: [await x.store.getWorkflow(one.workflow.id)], nextCursor: null });
      expect((await x.store.listWorkflows({ limit: 10, state: 'succeeded' })).workflows.map((w) => w.id)).toEqual([
        two.workflow.id,
      ]);
      expect((await x.store.listWorkflows({ limit: 10, state: 'running', owner: x.owner })).workflows).toHaveLength(2);
      expect((await x.store.listWorkflows({ limit: 10, owner: 'someone-else' })).workflows).toEqual([]);
    });

    it('retention never deletes a step’s job', async () => {
      const x = f();
      const { jobs } = await createWorkflow(x, [['a'], ['b', ['a']]], { onFailure: 'continue' });
      await succeedStep(x, jobs.a!);
      await failStep(x, jobs.b!);
      const [plain] = await x.enqueue();
      await x.store.cancel(plain!);
      x.advance(60_000);
      expect(await x.store.deleteFinished(x.now, 100)).toEqual({ deleted: 1 });
      expect(await stepStates(x, jobs)).toEqual({ a: 'succeeded', b: 'failed' });
      expect(await x.store.getJob(plain!)).toBeNull();
    });
  });
}
