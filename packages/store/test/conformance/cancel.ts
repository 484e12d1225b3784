import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS, UNKNOWN_ID, ref, rejection } from './fixture.js';

/** 9: cancellation. */
export function cancelTests(f: () => Fixture): void {
  describe('cancel', () => {
    it('cancels queued and delayed jobs at once; a cancelled delayed job is never promoted', async () => {
      const x = f();
      const [queued] = await x.enqueue();
      const [delayed] = await x.enqueue(1, { runAt: x.now + 60_000 });
      x.advance(3);
      const job = await x.store.cancel(queued!);
      expect(job).toMatchObject({ id: queued, state: 'cancelled', finishedAt: x.now, attempts: 0 });
      expect(await x.store.getJob(queued!)).toMatchObject({ state: 'cancelled', finishedAt: x.now });
      expect(await x.store.cancel(delayed!)).toMatchObject({ id: delayed, state: 'cancelled', finishedAt: x.now });
      expect(await x.store.pending([{ queue: x.queue, limit: 5 }])).toEqual([]);
      expect(await x.store.assign([{ jobId: queued!, agentId: 'agent-1', gpus: [] }], LEASE_MS)).toEqual([]);
      x.advance(60_000);
      // A cancelled job is no longer delayed: nothing is due, nothing comes later.
      expect(await x.store.promoteDue()).toEqual({ promoted: 0, nextRunAt: null });
      expect(await x.state(delayed!)).toBe('cancelled');
    });

    it('revokes a running job’s lease: its reports are refused with CANCELLED and it stays cancelled', async () => {
      const x = f();
      const a = await x.running();
      x.advance(10);
      expect(await x.store.cancel(a.job.id)).toMatchObject({ state: 'cancelled', finishedAt: x.now });
      expect(await x.store.complete([x.succeed(a)])).toEqual([
        { jobId: a.job.id, ok: false, code: 'CANCELLED', message: expect.any(String) },
      ]);
      expect((await x.store.complete([x.fail(a)]))[0]).toMatchObject({ ok: false, code: 'CANCELLED' });
      expect((await x.store.heartbeat([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'CANCELLED' });
      expect((await x.store.start([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'CANCELLED' });
      expect(await x.store.getJob(a.job.id)).toMatchObject({ state: 'cancelled', result: null, finishedAt: x.now });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        expect.objectContaining({ attempt: 1, outcome: 'cancelled', finishedAt: x.now }),
      ]);
      x.advance(LEASE_MS * 10);
      expect(await x.store.expireLeases()).toEqual({ requeued: [], failed: [], nextExpiryAt: null });
      expect(await x.state(a.job.id)).toBe('cancelled');
    });

    it('cancels an assigned job that never started', async () => {
      const x = f();
      const a = await x.leased();
      expect((await x.store.cancel(a.job.id)).state).toBe('cancelled');
      expect((await x.store.start([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'CANCELLED' });
      expect(await x.state(a.job.id)).toBe('cancelled');
    });

    it('refuses to cancel a finished job with JOB_FINISHED', async () => {
      const x = f();
      const ok = await x.running();
      await x.store.complete([x.succeed(ok)]);
      const bad = await x.running();
      await x.store.complete([x.fail(bad, false)]);
      const [gone] = await x.enqueue();
      await x.store.cancel(gone!);
      for (const id of [ok.job.id, bad.job.id, gone!]) {
        const before = await x.store.getJob(id);
        const err = await rejection(x.store.cancel(id));
        expect(err).toBeInstanceOf(ConflictError);
        expect(err.code).toBe('JOB_FINISHED');
        expect(await x.store.getJob(id)).toEqual(before);
      }
    });

    it('refuses to cancel an unknown job with JOB_NOT_FOUND', async () => {
      const x = f();
      const err = await rejection(x.store.cancel(UNKNOWN_ID));
      expect(err).toBeInstanceOf(NotFoundError);
      expect(err.code).toBe('JOB_NOT_FOUND');
    });
  });
}
