import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '@baton/core';
import type { Fixture } from './fixture.js';
import { UNKNOWN_ID, ref, rejection } from './fixture.js';
import { createWorkflow, failStep, newSteps, startStep, succeedStep } from './workflow-fixture.js';

/** 26: workflows that grow while they run (campaigns): addSteps. */
export function workflowGrowthTests(f: () => Fixture): void {
  describe('workflows: addSteps', () => {
    it('runs a campaign of 20 iterations, each added by the step that decides to go on', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['propose-0']]);
      let decide = jobs['propose-0']!;
      for (let i = 0; i < 20; i++) {
        const a = await startStep(x, decide);
        const last = i === 19;
        if (!last) {
          // Evaluate three candidates, train on them, and propose again.
          const added = await x.store.addSteps(
            workflow.id,
            ref(a),
            newSteps(x, workflow.id, [
              [`eval-${i}-a`, [`propose-${i}`]],
              [`eval-${i}-b`, [`propose-${i}`]],
              [`eval-${i}-c`, [`propose-${i}`]],
              [`train-${i}`, [`eval-${i}-a`, `eval-${i}-b`, `eval-${i}-c`]],
              [`propose-${i + 1}`, [`train-${i}`]],
            ]),
          );
          expect(added.steps.map((s) => [s.step, s.state])).toEqual([
            [`eval-${i}-a`, 'blocked'],
            [`eval-${i}-b`, 'blocked'],
            [`eval-${i}-c`, 'blocked'],
            [`train-${i}`, 'blocked'],
            [`propose-${i + 1}`, 'blocked'],
          ]);
          expect(added.workflow.counts.steps).toBe(1 + 5 * (i + 1));
        }
        await x.store.complete([x.succeed(a, { iteration: i })]);
        if (last) break;
        const ids = Object.fromEntries(
          (await x.store.workflowSteps(workflow.id, { limit: 1000 })).map((s) => [s.step, s.jobId]),
        );
        for (const e of ['a', 'b', 'c']) {
          const id = ids[`eval-${i}-${e}`]!;
          expect((await x.store.getJob(id))?.inputs).toEqual({ [`propose-${i}`]: { iteration: i } });
          await succeedStep(x, id, e);
        }
        await succeedStep(x, ids[`train-${i}`]!, 'model');
        decide = ids[`propose-${i + 1}`]!;
        expect((await x.store.getJob(decide))?.inputs).toEqual({ [`train-${i}`]: 'model' });
      }
      expect(await x.store.getWorkflow(workflow.id)).toMatchObject({
        state: 'succeeded',
        counts: { steps: 96, succeeded: 96 },
      });
      // Waiting between iterations held no lease: only the deciding step was ever leased at a time.
      expect((await x.store.listJobs({ limit: 500 })).jobs).toHaveLength(96);
    });

    it('a new step needing finished steps: queued with their results, or skipped after one that failed', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['ok'], ['bad'], ['driver'], ['later']], {
        onFailure: 'continue',
      });
      await succeedStep(x, jobs.ok!, 'fine');
      await failStep(x, jobs.bad!);
      const driver = await startStep(x, jobs.driver!);
      const added = await x.store.addSteps(
        workflow.id,
        ref(driver),
        newSteps(x, workflow.id, [
          ['uses-ok', ['ok']],
          ['uses-bad', ['bad']],
          ['after-uses-bad', ['uses-bad']],
          ['waits', ['later', 'ok']],
        ]),
      );
      const state = Object.fromEntries(added.steps.map((s) => [s.step, s.state]));
      expect(state).toEqual({
        'uses-ok': 'queued',
        'uses-bad': 'skipped',
        'after-uses-bad': 'skipped',
        waits: 'blocked',
      });
      const ids = Object.fromEntries(added.steps.map((s) => [s.step, s.jobId]));
      expect((await x.store.getJob(ids['uses-ok']!))?.inputs).toEqual({ ok: 'fine' });
      expect(added.workflow.counts).toEqual({ steps: 8, succeeded: 1, failed: 1, cancelled: 0, skipped: 2 });
      await succeedStep(x, jobs.later!, 'l');
      expect((await x.store.getJob(ids.waits!))?.inputs).toEqual({ later: 'l', ok: 'fine' });
    });

    it('refuses bad additions, changing nothing', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b']], { maxSteps: 4 });
      const a = await startStep(x, jobs.a!);
      const before = await x.store.getWorkflow(workflow.id);
      const jobCount = async () => (await x.store.listJobs({ limit: 100 })).jobs.length;
      const refused = async (promise: Promise<unknown>, type: unknown, code: string) => {
        const err = await rejection(promise);
        expect(err).toBeInstanceOf(type);
        expect(err.code).toBe(code);
      };
      const add = (defs: Parameters<typeof newSteps>[2], by = ref(a), id = workflow.id) =>
        x.store.addSteps(id, by, newSteps(x, id, defs));
      await refused(add([['c']], ref(a), UNKNOWN_ID), NotFoundError, 'WORKFLOW_NOT_FOUND');
      await refused(add([['b']]), ValidationError, 'DUPLICATE_STEP');
      await refused(add([['c', ['nope']]]), ValidationError, 'UNKNOWN_STEP');
      await refused(
        add([
          ['c', ['d']],
          ['d', ['c']],
        ]),
        ValidationError,
        'WORKFLOW_CYCLE',
      );
      await refused(add([['c'], ['d'], ['e']]), ConflictError, 'MAX_STEPS');
      await refused(add([['c']], { jobId: jobs.a!, leaseToken: 'not-the-token' }), ConflictError, 'STALE_LEASE');
      const plain = await x.leased();
      await refused(add([['c']], ref(plain)), ConflictError, 'NOT_A_STEP');
      const other = await createWorkflow(x, [['z']]);
      const z = await startStep(x, other.jobs.z!);
      await refused(add([['c']], ref(z)), ConflictError, 'NOT_A_STEP');
      const foreign = newSteps(x, workflow.id, [['c']]);
      foreign[0]!.job.owner = 'someone-else';
      await refused(x.store.addSteps(workflow.id, ref(a), foreign), ValidationError, 'VALIDATION_FAILED');
      expect(await x.store.getWorkflow(workflow.id)).toEqual(before);
      expect(await jobCount()).toBe(4);
      // Two more fit maxSteps exactly.
      await add([['c'], ['d', ['c']]]);
      await x.store.complete([x.succeed(a)]);
      await refused(add([['e']]), ConflictError, 'FINISHED');
      await x.store.cancelWorkflow(workflow.id);
      const z2 = await x.store.workflowSteps(other.workflow.id, { limit: 5 });
      expect(z2[0]?.state).toBe('running');
      await x.store.cancelWorkflow(other.workflow.id);
      await refused(
        x.store.addSteps(other.workflow.id, ref(z), newSteps(x, other.workflow.id, [['y']])),
        ConflictError,
        'WORKFLOW_FINISHED',
      );
    });
  });
}
