import { describe, expect, it, vi } from 'vitest';
import type { JobAssignment, JobError } from '@baton/core';
import type { StoreEvent } from '@baton/store';
import type { Fixture } from './fixture.js';
import { LEASE_MS, UNKNOWN_ID, ref } from './fixture.js';

const GPU_LOST: JobError = { code: 'GPU_FAILED', message: 'GPU 1 fell off the bus (XID 79)', retryable: true };

const released = (a: JobAssignment, error: JobError = GPU_LOST) => ({ ...ref(a), error });

/** 15: release, ending an attempt without waiting for its lease. */
export function releaseTests(f: () => Fixture): void {
  describe('release', () => {
    it('requeues a running job at once, with no backoff, recording the failed attempt and its error', async () => {
      const x = f();
      const a = await x.leased('agent-gpu', { backoffMs: 60_000 });
      const assignedAt = x.now;
      x.advance(5);
      await x.store.start([ref(a)], LEASE_MS);
      x.advance(10);
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        expect(await x.store.release([released(a)])).toEqual([{ jobId: a.job.id, ok: true, state: 'queued' }]);
        await vi.waitFor(() => expect(events.some((e) => e.type === 'changed')).toBe(true), {
          timeout: 5000,
          interval: 5,
        });
      } finally {
        unsubscribe();
      }
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'queued',
        attempts: 1,
        runAt: x.now,
        agentId: null,
        leaseExpiresAt: null,
        finishedAt: null,
        error: GPU_LOST,
      });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        {
          attempt: 1,
          agentId: 'agent-gpu',
          assignedAt,
          startedAt: assignedAt + 5,
          finishedAt: x.now,
          outcome: 'failed',
          error: GPU_LOST,
        },
      ]);
      expect((await x.store.pending([{ queue: x.queue, limit: 10 }])).map((p) => p.id)).toEqual([a.job.id]);
    });

    it('lets the released job be assigned again, and refuses the old lease on everything', async () => {
      const x = f();
      const a = await x.running('agent-1');
      await x.store.release([released(a)]);
      expect((await x.store.heartbeat([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.release([released(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });

      x.advance(10);
      const again = await x.assign(a.job.id, 'agent-2', [0]);
      expect(again.job).toMatchObject({ attempts: 2, agentId: 'agent-2', gpus: [0] });
      expect(again.leaseToken).not.toBe(a.leaseToken);
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.release([released(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect(await x.state(a.job.id)).toBe('assigned');
      expect((await x.store.complete([x.succeed(again, 'second')]))[0]).toMatchObject({ ok: true, state: 'succeeded' });
      expect((await x.store.getAttempts(a.job.id)).map((t) => [t.attempt, t.agentId, t.outcome])).toEqual([
        [1, 'agent-1', 'failed'],
        [2, 'agent-2', 'succeeded'],
      ]);
    });

    it('releases an assigned job that never started', async () => {
      const x = f();
      const a = await x.leased();
      expect((await x.store.release([released(a)]))[0]).toMatchObject({ ok: true, state: 'queued' });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        expect.objectContaining({ attempt: 1, startedAt: null, finishedAt: x.now, outcome: 'failed' }),
      ]);
      expect((await x.store.start([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
    });

    it('fails a job released on its last attempt, with the given error', async () => {
      const x = f();
      const [id] = await x.enqueue(1, { maxAttempts: 2 });
      const first = await x.assign(id!);
      expect((await x.store.release([released(first)]))[0]).toMatchObject({ ok: true, state: 'queued' });
      const last = await x.assign(id!);
      await x.store.start([ref(last)], LEASE_MS);
      x.advance(20);
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        expect(await x.store.release([released(last)])).toEqual([{ jobId: id, ok: true, state: 'failed' }]);
        await vi.waitFor(() => expect(events.some((e) => e.type === 'changed')).toBe(true), {
          timeout: 5000,
          interval: 5,
        });
      } finally {
        unsubscribe();
      }
      expect(await x.store.getJob(id!)).toMatchObject({
        state: 'failed',
        attempts: 2,
        error: GPU_LOST,
        finishedAt: x.now,
        leaseExpiresAt: null,
      });
      expect(await x.store.getAttempts(id!)).toEqual([
        expect.objectContaining({ attempt: 1, outcome: 'failed', error: GPU_LOST }),
        expect.objectContaining({ attempt: 2, outcome: 'failed', error: GPU_LOST, finishedAt: x.now }),
      ]);
      expect(await x.store.pending([{ queue: x.queue, limit: 10 }])).toEqual([]);
      expect((await x.store.complete([x.succeed(last)]))[0]).toMatchObject({ ok: false, code: 'FINISHED' });
      expect((await x.store.release([released(last)]))[0]).toMatchObject({ ok: false, code: 'FINISHED' });
    });

    it('refuses a stale token, a cancelled, finished or unknown job, and leaves them as they were', async () => {
      const x = f();
      const held = await x.running();
      const cancelled = await x.running();
      await x.store.cancel(cancelled.job.id);
      const done = await x.running();
      await x.store.complete([x.succeed(done)]);
      const wrongToken = { jobId: held.job.id, leaseToken: `${held.leaseToken}-not`, error: GPU_LOST };
      const before = await x.store.getJob(held.job.id);

      expect(
        await x.store.release([
          wrongToken,
          released(cancelled),
          released(done),
          { jobId: UNKNOWN_ID, leaseToken: 'nope', error: GPU_LOST },
        ]),
      ).toEqual([
        { jobId: held.job.id, ok: false, code: 'STALE_LEASE', message: expect.any(String) },
        { jobId: cancelled.job.id, ok: false, code: 'CANCELLED', message: expect.any(String) },
        { jobId: done.job.id, ok: false, code: 'FINISHED', state: 'succeeded', message: expect.any(String) },
        { jobId: UNKNOWN_ID, ok: false, code: 'NOT_FOUND', message: expect.any(String) },
      ]);
      expect(await x.store.getJob(held.job.id)).toEqual(before);
      expect(await x.store.getJob(cancelled.job.id)).toMatchObject({ state: 'cancelled', error: null });
      expect(await x.store.getJob(done.job.id)).toMatchObject({ state: 'succeeded', error: null });
      expect(await x.store.getAttempts(held.job.id)).toEqual([expect.objectContaining({ outcome: null })]);
    });

    it('releases each job of a batch once, in input order', async () => {
      const x = f();
      const a = await x.running();
      const b = await x.leased();
      const results = await x.store.release([released(a), released(b), released(a)]);
      expect(results.map((r) => [r.jobId, r.ok])).toEqual([
        [a.job.id, true],
        [b.job.id, true],
        [a.job.id, false],
      ]);
      expect(results[2]).toMatchObject({ code: 'STALE_LEASE' });
      expect(await x.store.getAttempts(a.job.id)).toHaveLength(1);
      expect((await x.store.pending([{ queue: x.queue, limit: 10 }])).map((p) => p.id)).toEqual([a.job.id, b.job.id]);
    });
  });
}
