import { describe, expect, it, vi } from 'vitest';
import type { StoreEvent } from '@baton/store';
import type { Fixture } from './fixture.js';
import { LEASE_MS, UNKNOWN_ID, ref } from './fixture.js';
import { createWorkflow, failStep, newWorkflow, startStep, stepStates, succeedStep } from './workflow-fixture.js';

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5000, interval: 5 });

/** 24: workflows — creation and advancing, atomic with the transition that finishes a step. */
export function workflowTests(f: () => Fixture): void {
  describe('workflows: create and advance', () => {
    it('creates every step at once: steps without needs queued, the rest blocked', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]], {
        name: 'diamond',
      });
      expect(workflow).toMatchObject({
        owner: x.owner,
        name: 'diamond',
        state: 'running',
        onFailure: 'fail-fast',
        counts: { steps: 4, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 },
        createdAt: x.now,
        finishedAt: null,
      });
      expect(await x.store.getWorkflow(workflow.id)).toEqual(workflow);
      expect(await stepStates(x, jobs)).toEqual({ a: 'queued', b: 'blocked', c: 'blocked', d: 'blocked' });
      const d = await x.store.getJob(jobs.d!);
      expect(d).toMatchObject({ workflow: { id: workflow.id, step: 'd', needs: ['b', 'c'] }, owner: x.owner });
      expect(d?.inputs).toBeUndefined();
      const steps = await x.store.workflowSteps(workflow.id, { limit: 10 });
      expect(steps.map((s) => [s.step, s.jobId, s.needs, s.state])).toEqual([
        ['a', jobs.a, [], 'queued'],
        ['b', jobs.b, ['a'], 'blocked'],
        ['c', jobs.c, ['a'], 'blocked'],
        ['d', jobs.d, ['b', 'c'], 'blocked'],
      ]);
      expect(steps[0]).toMatchObject({ task: 'test.task', queue: x.queue, attempts: 0, error: null, startedAt: null });
      const page = await x.store.workflowSteps(workflow.id, { after: jobs.b!, limit: 1 });
      expect(page.map((s) => s.step)).toEqual(['c']);
      // Blocked steps are counted, and never offered to a scheduler.
      const stats = (await x.store.queueStats()).find((s) => s.queue === x.queue);
      expect(stats?.counts).toMatchObject({ queued: 1, blocked: 3 });
      expect((await x.store.pending([{ queue: x.queue, limit: 10 }])).map((p) => p.id)).toEqual([jobs.a]);
      // Blocked steps are work that waits: they count against the owner's maxQueuedJobs.
      expect((await x.store.ownerUsage(x.owner)).waitingJobs).toBe(4);
    });

    it('creates a workflow once per (owner, idempotencyKey)', async () => {
      const x = f();
      const first = newWorkflow(x, [['a'], ['b', ['a']]], { idempotencyKey: 'nightly-1' });
      const made = await x.store.createWorkflow(first);
      expect(made.created).toBe(true);
      const again = await x.store.createWorkflow(newWorkflow(x, [['z']], { idempotencyKey: 'nightly-1' }));
      expect(again).toEqual({ workflow: made.workflow, created: false });
      expect((await x.store.listJobs({ limit: 10 })).jobs).toHaveLength(2);
      expect((await x.store.listWorkflows({ limit: 10 })).workflows.map((w) => w.id)).toEqual([made.workflow.id]);
    });

    it('releases a diamond step by step, handing each step its needs’ results as inputs', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]]);
      await succeedStep(x, jobs.a!, { pages: 3 });
      expect(await stepStates(x, jobs)).toEqual({ a: 'succeeded', b: 'queued', c: 'queued', d: 'blocked' });
      expect((await x.store.getJob(jobs.b!))?.inputs).toEqual({ a: { pages: 3 } });
      await succeedStep(x, jobs.b!, 'bee');
      expect(await x.state(jobs.d!)).toBe('blocked');
      await succeedStep(x, jobs.c!, null);
      const d = await x.store.getJob(jobs.d!);
      expect(d).toMatchObject({ state: 'queued', inputs: { b: 'bee', c: null } });
      // The agent gets the step's place and inputs with the assignment.
      const a = await startStep(x, jobs.d!);
      expect(a.job).toMatchObject({ workflow: { id: workflow.id, step: 'd' }, inputs: { b: 'bee', c: null } });
      expect((await x.store.getWorkflow(workflow.id))?.state).toBe('running');
      x.advance(5);
      await x.store.complete([x.succeed(a, 'done')]);
      expect(await x.store.getWorkflow(workflow.id)).toMatchObject({
        state: 'succeeded',
        finishedAt: x.now,
        counts: { steps: 4, succeeded: 4, failed: 0, cancelled: 0, skipped: 0 },
      });
    });

    it('answers a batch of successes alone item by item: plain jobs, a step, refusals', async () => {
      // Successes alone may take a shorter path than a batch with failures (PostgreSQL records
      // them in one statement); a step among them must still advance its workflow.
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b', ['a']]]);
      const step = await startStep(x, jobs.a!);
      const plain = await x.running();
      const assigned = await x.leased();
      const done = await x.running();
      await x.store.complete([x.succeed(done, 'first')]);
      const cancelled = await x.running();
      await x.store.cancel(cancelled.job.id);
      const results = await x.store.complete([
        x.succeed(plain, 'p'),
        { jobId: UNKNOWN_ID, leaseToken: 'x', outcome: 'succeeded', result: null },
        x.succeed(step, 'from a'),
        { ...ref(assigned), leaseToken: 'stale', outcome: 'succeeded', result: null },
        x.succeed(done, 'again'),
        x.succeed(cancelled),
      ]);
      expect(results.map((r) => [r.jobId, r.ok ? r.state : r.code])).toEqual([
        [plain.job.id, 'succeeded'],
        [UNKNOWN_ID, 'NOT_FOUND'],
        [step.job.id, 'succeeded'],
        [assigned.job.id, 'STALE_LEASE'],
        [done.job.id, 'FINISHED'],
        [cancelled.job.id, 'CANCELLED'],
      ]);
      expect(await x.store.getJob(plain.job.id)).toMatchObject({ state: 'succeeded', result: 'p', progress: 100 });
      expect(await x.store.getJob(assigned.job.id)).toMatchObject({ state: 'assigned' });
      expect(await x.store.getJob(done.job.id)).toMatchObject({ result: 'first' });
      expect(await stepStates(x, jobs)).toEqual({ a: 'succeeded', b: 'queued' });
      expect((await x.store.getJob(jobs.b!))?.inputs).toEqual({ a: 'from a' });
      expect((await x.store.getWorkflow(workflow.id))?.counts).toMatchObject({ succeeded: 1 });
    });

    it('a plain job carries no workflow and no inputs', async () => {
      const x = f();
      const a = await x.running();
      expect(a.job.workflow).toBeUndefined();
      expect(a.job.inputs).toBeUndefined();
      const job = await x.store.getJob(a.job.id);
      expect(job?.workflow).toBeUndefined();
      expect(job?.inputs).toBeUndefined();
    });

    it('announces released steps’ queues, so a scheduler wakes for them', async () => {
      const x = f();
      const other = x.otherQueue('ocr');
      const { jobs } = await createWorkflow(x, [['a'], ['b', ['a'], { queue: other }]]);
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        await succeedStep(x, jobs.a!);
        await waitFor(() => expect(events.some((e) => e.type === 'enqueued' && e.queues.includes(other))).toBe(true));
      } finally {
        unsubscribe();
      }
    });

    it('fans out and back in: 200 steps between a root and a join', async () => {
      const x = f();
      const middle = Array.from({ length: 200 }, (_, i) => `m${i}`);
      const { workflow, jobs } = await createWorkflow(x, [
        ['root'],
        ...middle.map((m): [string, string[]] => [m, ['root']]),
        ['join', middle],
      ]);
      await succeedStep(x, jobs.root!, 0);
      const queued = await x.store.pending([{ queue: x.queue, limit: 500 }]);
      expect(queued).toHaveLength(200);
      const assignments = await x.store.assign(
        queued.map((p) => ({ jobId: p.id, agentId: 'agent-1', gpus: [] })),
        LEASE_MS,
      );
      expect(assignments).toHaveLength(200);
      await x.store.start(assignments.map(ref), LEASE_MS);
      // One batch completes all 200; the join is released once, by the last of them.
      await x.store.complete(assignments.map((a) => x.succeed(a, a.job.workflow?.step)));
      const join = await x.store.getJob(jobs.join!);
      expect(join?.state).toBe('queued');
      expect(join?.inputs).toEqual(Object.fromEntries(middle.map((m) => [m, m])));
      await succeedStep(x, jobs.join!);
      expect(await x.store.getWorkflow(workflow.id)).toMatchObject({
        state: 'succeeded',
        counts: { steps: 202, succeeded: 202 },
      });
    });

    it('a failure with attempts left does not advance; the final failure does', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(
        x,
        [
          ['a', [], { maxAttempts: 2, backoffMs: 0 }],
          ['b', ['a']],
        ],
        {
          onFailure: 'continue',
        },
      );
      const first = await startStep(x, jobs.a!);
      expect((await x.store.complete([x.fail(first)]))[0]).toMatchObject({ ok: true, state: 'queued' });
      expect(await stepStates(x, jobs)).toEqual({ a: 'queued', b: 'blocked' });
      await failStep(x, jobs.a!);
      expect(await stepStates(x, jobs)).toEqual({ a: 'failed', b: 'skipped' });
      expect(await x.store.getJob(jobs.b!)).toMatchObject({
        error: { code: 'NEED_UNSUCCESSFUL', retryable: false },
        finishedAt: x.now,
      });
      expect(await x.store.getWorkflow(workflow.id)).toMatchObject({
        state: 'failed',
        finishedAt: x.now,
        counts: { steps: 2, succeeded: 0, failed: 1, skipped: 1, cancelled: 0 },
      });
    });

    it('continue: skips only what depends on the failure, transitively, and runs the rest', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(
        x,
        [['a'], ['b', ['a']], ['c', ['b']], ['d'], ['e', ['d']], ['f', ['c', 'e']]],
        { onFailure: 'continue' },
      );
      await failStep(x, jobs.a!);
      expect(await stepStates(x, jobs)).toEqual({
        a: 'failed',
        b: 'skipped',
        c: 'skipped',
        d: 'queued',
        e: 'blocked',
        f: 'skipped',
      });
      expect((await x.store.getWorkflow(workflow.id))?.state).toBe('running');
      await succeedStep(x, jobs.d!);
      expect(await x.state(jobs.e!)).toBe('queued');
      await succeedStep(x, jobs.e!);
      // A skipped step counts as a step that did not succeed: the workflow fails.
      expect(await x.store.getWorkflow(workflow.id)).toMatchObject({
        state: 'failed',
        counts: { steps: 6, succeeded: 2, failed: 1, skipped: 3, cancelled: 0 },
      });
    });

    it('fail-fast: the first final failure skips its dependents and cancels every other unfinished step', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b', ['a']], ['c'], ['d', ['c']], ['e']]);
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        const c = await startStep(x, jobs.c!, 'agent-7');
        await succeedStep(x, jobs.e!);
        await failStep(x, jobs.a!);
        expect(await stepStates(x, jobs)).toEqual({
          a: 'failed',
          b: 'skipped',
          c: 'cancelled',
          d: 'cancelled',
          e: 'succeeded',
        });
        expect(await x.store.getJob(jobs.c!)).toMatchObject({ error: { code: 'WORKFLOW_FAILED' }, finishedAt: x.now });
        // The running step's agent is told, and its reports are refused.
        await waitFor(() => expect(events).toContainEqual({ type: 'cancelled', jobId: jobs.c, agentId: 'agent-7' }));
        // Only the leased step is announced: a waiting one has no agent to tell.
        expect(events.filter((e) => e.type === 'cancelled' && e.jobId === jobs.d)).toEqual([]);
        expect((await x.store.complete([x.succeed(c)]))[0]).toMatchObject({ ok: false, code: 'CANCELLED' });
        expect(await x.store.getWorkflow(workflow.id)).toMatchObject({
          state: 'failed',
          finishedAt: x.now,
          counts: { steps: 5, succeeded: 1, failed: 1, skipped: 1, cancelled: 2 },
        });
      } finally {
        unsubscribe();
      }
    });

    it('a lease that runs out on the last attempt fails the step and advances the workflow', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(
        x,
        [
          ['a', [], { maxAttempts: 1 }],
          ['b', ['a']],
        ],
        {
          onFailure: 'continue',
        },
      );
      await startStep(x, jobs.a!);
      x.advance(LEASE_MS + 1);
      expect((await x.store.expireLeases()).failed).toEqual([jobs.a]);
      expect(await stepStates(x, jobs)).toEqual({ a: 'failed', b: 'skipped' });
      expect((await x.store.getWorkflow(workflow.id))?.state).toBe('failed');
    });

    it('a release on the last attempt fails the step and advances the workflow', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a', [], { maxAttempts: 1 }], ['b', ['a']], ['c']]);
      const a = await startStep(x, jobs.a!);
      const [released] = await x.store.release([
        { ...ref(a), error: { code: 'GPU_FAILED', message: 'gpu 0 fell off the bus', retryable: true } },
      ]);
      expect(released).toMatchObject({ ok: true, state: 'failed' });
      expect(await stepStates(x, jobs)).toEqual({ a: 'failed', b: 'skipped', c: 'cancelled' });
      expect((await x.store.getWorkflow(workflow.id))?.state).toBe('failed');
    });

    it('cancelling one step’s job counts as that step not succeeding', async () => {
      const x = f();
      const { workflow, jobs } = await createWorkflow(x, [['a'], ['b', ['a']], ['c']], { onFailure: 'continue' });
      await x.store.cancel(jobs.a!);
      expect(await stepStates(x, jobs)).toEqual({ a: 'cancelled', b: 'skipped', c: 'queued' });
      // A blocked step may be cancelled on its own too.
      await succeedStep(x, jobs.c!);
      expect(await x.store.getWorkflow(workflow.id)).toMatchObject({
        state: 'failed',
        counts: { steps: 3, succeeded: 1, cancelled: 1, skipped: 1, failed: 0 },
      });
    });

    it('a blocked step cancelled on its own skips its dependents', async () => {
      const x = f();
      const { jobs } = await createWorkflow(x, [['a'], ['b', ['a']], ['c', ['b']]], { onFailure: 'continue' });
      await x.store.cancel(jobs.b!);
      expect(await stepStates(x, jobs)).toEqual({ a: 'queued', b: 'cancelled', c: 'skipped' });
      await succeedStep(x, jobs.a!);
      // b is final: a's success releases nothing.
      expect(await stepStates(x, jobs)).toEqual({ a: 'succeeded', b: 'cancelled', c: 'skipped' });
    });
  });
}
