import { describe, expect, it, vi } from 'vitest';
import type { JobAssignment } from '@baton/core';
import type { StoreEvent } from '@baton/store';
import type { Fixture } from './fixture.js';
import { LEASE_MS, UNKNOWN_ID, ref } from './fixture.js';

const MESSAGE = 'preempted for a high-priority job';

const preempted = (a: JobAssignment, message = MESSAGE) => ({ ...ref(a), message });

const PREEMPTED_ERROR = expect.objectContaining({ code: 'PREEMPTED', message: MESSAGE });

/** Networked backends deliver events asynchronously; wait for them rather than sleep a fixed time. */
const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5000, interval: 5 });

/** Issue 10: preempt, giving leased jobs back to the queue without spending their attempt. */
export function preemptTests(f: () => Fixture): void {
  describe('preempt', () => {
    it('requeues a running job at once, recording the preempted attempt, and announces its queue', async () => {
      const x = f();
      const a = await x.leased('agent-gpu', { backoffMs: 60_000 });
      const assignedAt = x.now;
      x.advance(5);
      await x.store.start([ref(a)], LEASE_MS);
      x.advance(10);
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        expect(await x.store.preempt([preempted(a)])).toEqual([{ jobId: a.job.id, ok: true, state: 'queued' }]);
        await waitFor(() => expect(events.some((e) => e.type === 'enqueued' && e.queues.includes(x.queue))).toBe(true));
      } finally {
        unsubscribe();
      }
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'queued',
        attempts: 1,
        maxAttempts: 4,
        runAt: x.now,
        agentId: null,
        leaseExpiresAt: null,
        finishedAt: null,
        error: PREEMPTED_ERROR,
      });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        {
          attempt: 1,
          agentId: 'agent-gpu',
          assignedAt,
          startedAt: assignedAt + 5,
          finishedAt: x.now,
          outcome: 'preempted',
          error: PREEMPTED_ERROR,
        },
      ]);
      expect((await x.store.pending([{ queue: x.queue, limit: 10 }])).map((p) => p.id)).toEqual([a.job.id]);
    });

    it('refuses the old lease everywhere, and the next assignment is the next attempt', async () => {
      const x = f();
      const a = await x.running('agent-1');
      await x.store.preempt([preempted(a)]);
      expect((await x.store.start([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.heartbeat([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect(
        (await x.store.release([{ ...ref(a), error: { code: 'X', message: 'x', retryable: true } }]))[0],
      ).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.preempt([preempted(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });

      x.advance(10);
      const again = await x.assign(a.job.id, 'agent-2');
      expect(again.job).toMatchObject({ attempts: 2, maxAttempts: 4, agentId: 'agent-2' });
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.complete([x.succeed(again)]))[0]).toMatchObject({ ok: true, state: 'succeeded' });
      expect((await x.store.getAttempts(a.job.id)).map((t) => [t.attempt, t.agentId, t.outcome])).toEqual([
        [1, 'agent-1', 'preempted'],
        [2, 'agent-2', 'succeeded'],
      ]);
    });

    it('does not spend the attempt: a job on its last attempt is requeued, and keeps that one attempt', async () => {
      const x = f();
      const [id] = await x.enqueue(1, { maxAttempts: 1 });
      const first = await x.assign(id!);
      expect((await x.store.preempt([preempted(first)]))[0]).toMatchObject({ ok: true, state: 'queued' });
      expect(await x.store.getJob(id!)).toMatchObject({ state: 'queued', attempts: 1, maxAttempts: 2 });
      const last = await x.assign(id!);
      expect(last.job).toMatchObject({ attempts: 2, maxAttempts: 2 });
      // A retryable failure on the attempt left fails the job: the preemption gave back one attempt, no more.
      expect((await x.store.complete([x.fail(last)]))[0]).toMatchObject({ ok: true, state: 'failed' });
      expect((await x.store.getAttempts(id!)).map((t) => t.outcome)).toEqual(['preempted', 'failed']);
    });

    it('preempts an assigned job that never started', async () => {
      const x = f();
      const a = await x.leased();
      expect((await x.store.preempt([preempted(a)]))[0]).toMatchObject({ ok: true, state: 'queued' });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        expect.objectContaining({ attempt: 1, startedAt: null, finishedAt: x.now, outcome: 'preempted' }),
      ]);
      expect((await x.store.start([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
    });

    it('refuses a stale token, a cancelled, finished or unknown job, and leaves them as they were', async () => {
      const x = f();
      const held = await x.running();
      const cancelled = await x.running();
      await x.store.cancel(cancelled.job.id);
      const done = await x.running();
      await x.store.complete([x.succeed(done)]);
      const before = await x.store.getJob(held.job.id);

      expect(
        await x.store.preempt([
          { jobId: held.job.id, leaseToken: `${held.leaseToken}-not`, message: MESSAGE },
          preempted(cancelled),
          preempted(done),
          { jobId: UNKNOWN_ID, leaseToken: 'nope', message: MESSAGE },
        ]),
      ).toEqual([
        { jobId: held.job.id, ok: false, code: 'STALE_LEASE', message: expect.any(String) },
        { jobId: cancelled.job.id, ok: false, code: 'CANCELLED', message: expect.any(String) },
        { jobId: done.job.id, ok: false, code: 'FINISHED', state: 'succeeded', message: expect.any(String) },
        { jobId: UNKNOWN_ID, ok: false, code: 'NOT_FOUND', message: expect.any(String) },
      ]);
      expect(await x.store.getJob(held.job.id)).toEqual(before);
      expect(await x.store.getAttempts(held.job.id)).toEqual([expect.objectContaining({ outcome: null })]);
      expect(await x.store.getJob(done.job.id)).toMatchObject({ state: 'succeeded', maxAttempts: 3 });
    });

    it("updates the owners' counts and loads, and announces every queue of a batch", async () => {
      const x = f();
      const gpu = { resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 2 } };
      const a = await x.running('agent-1', gpu);
      const b = await x.leased('agent-2', { queue: x.otherQueue('b') });
      const kept = await x.running('agent-3');
      expect(await x.store.ownerLoads()).toEqual([{ owner: x.owner, leasedJobs: 3, leasedGpus: 2, leasedUnits: 4 }]);
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        const results = await x.store.preempt([preempted(a), preempted(b)]);
        expect(results.map((r) => r.ok)).toEqual([true, true]);
        await waitFor(() => {
          const queues = events.flatMap((e) => (e.type === 'enqueued' ? e.queues : []));
          expect(queues).toEqual(expect.arrayContaining([x.queue, x.otherQueue('b')]));
        });
      } finally {
        unsubscribe();
      }
      expect(await x.store.ownerLoads()).toEqual([{ owner: x.owner, leasedJobs: 1, leasedGpus: 0, leasedUnits: 1 }]);
      expect(await x.store.ownerUsage(x.owner)).toMatchObject({ leasedJobs: 1, leasedGpus: 0, waitingJobs: 2 });
      const queued = (await x.store.queueStats()).find((s) => s.queue === x.queue);
      expect(queued?.counts).toMatchObject({ queued: 1, running: 1 });
      expect(await x.state(kept.job.id)).toBe('running');
    });
  });
}
