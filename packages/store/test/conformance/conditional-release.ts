import { describe, expect, it } from 'vitest';
import type { JobAssignment, JobError } from '@baton/core';
import { ValidationError } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS, UNKNOWN_ID, ref, rejection } from './fixture.js';

const AGENT_LOST: JobError = { code: 'AGENT_LOST', message: 'agent-1 went silent', retryable: true };

const releasedBy = (a: JobAssignment, leaseExpiresBy: number) => ({ ...ref(a), error: AGENT_LOST, leaseExpiresBy });

/**
 * 15b: a conditional release (`leaseExpiresBy`): a server releasing a lost agent's jobs must
 * not release one whose lease another server renewed since it looked.
 */
export function conditionalReleaseTests(f: () => Fixture): void {
  describe('conditional release', () => {
    /** A running job and the lease expiry a caller saw, then its lease renewed 1 s later. */
    async function renewedSinceSeen(x: Fixture): Promise<{ a: JobAssignment; seen: number; renewed: number }> {
      const a = await x.running('agent-1');
      const seen = (await x.store.getJob(a.job.id))!.leaseExpiresAt!;
      x.advance(1000);
      expect((await x.store.heartbeat([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: true });
      const renewed = (await x.store.getJob(a.job.id))!.leaseExpiresAt!;
      expect(renewed).toBe(seen + 1000);
      return { a, seen, renewed };
    }

    it('refuses a job whose lease was renewed since (LEASE_RENEWED) and leaves it running', async () => {
      const x = f();
      const { a, seen, renewed } = await renewedSinceSeen(x);
      const before = await x.store.getJob(a.job.id);
      expect(await x.store.release([releasedBy(a, seen)])).toEqual([
        { jobId: a.job.id, ok: false, code: 'LEASE_RENEWED', message: expect.stringContaining('renewed') },
      ]);
      expect(await x.store.getJob(a.job.id)).toEqual(before);
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'running',
        agentId: 'agent-1',
        leaseExpiresAt: renewed,
      });
      expect(await x.store.getAttempts(a.job.id)).toEqual([expect.objectContaining({ outcome: null })]);
      // The lease is untouched: its agent goes on reporting.
      expect((await x.store.heartbeat([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: true, state: 'running' });
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: true, state: 'succeeded' });
    });

    it('releases a job whose lease ends by the given time, as an unconditional release does', async () => {
      const x = f();
      const exact = await renewedSinceSeen(x);
      const later = await renewedSinceSeen(x);
      x.advance(5);
      expect(
        await x.store.release([releasedBy(exact.a, exact.renewed), releasedBy(later.a, later.renewed + 60_000)]),
      ).toEqual([
        { jobId: exact.a.job.id, ok: true, state: 'queued' },
        { jobId: later.a.job.id, ok: true, state: 'queued' },
      ]);
      for (const { a } of [exact, later]) {
        expect(await x.store.getJob(a.job.id)).toMatchObject({
          state: 'queued',
          leaseExpiresAt: null,
          error: AGENT_LOST,
        });
        expect(await x.store.getAttempts(a.job.id)).toEqual([
          expect.objectContaining({ attempt: 1, outcome: 'failed', finishedAt: x.now, error: AGENT_LOST }),
        ]);
      }
    });

    it('decides each item of a batch on its own', async () => {
      const x = f();
      const renewed = await renewedSinceSeen(x);
      const quiet = await x.running('agent-1');
      const quietSeen = (await x.store.getJob(quiet.job.id))!.leaseExpiresAt!;
      expect(await x.store.release([releasedBy(renewed.a, renewed.seen), releasedBy(quiet, quietSeen)])).toEqual([
        { jobId: renewed.a.job.id, ok: false, code: 'LEASE_RENEWED', message: expect.any(String) },
        { jobId: quiet.job.id, ok: true, state: 'queued' },
      ]);
      expect(await x.state(renewed.a.job.id)).toBe('running');
    });

    it('keeps the other refusals first: LEASE_RENEWED answers only a current lease', async () => {
      const x = f();
      const { a, seen } = await renewedSinceSeen(x);
      const cancelled = await renewedSinceSeen(x);
      await x.store.cancel(cancelled.a.job.id);
      const done = await renewedSinceSeen(x);
      await x.store.complete([x.succeed(done.a)]);
      expect(
        await x.store.release([
          { ...releasedBy(a, seen), leaseToken: `${a.leaseToken}-not` },
          releasedBy(cancelled.a, cancelled.seen),
          releasedBy(done.a, done.seen),
          { jobId: UNKNOWN_ID, leaseToken: 'nope', error: AGENT_LOST, leaseExpiresBy: seen },
        ]),
      ).toEqual([
        { jobId: a.job.id, ok: false, code: 'STALE_LEASE', message: expect.any(String) },
        { jobId: cancelled.a.job.id, ok: false, code: 'CANCELLED', message: expect.any(String) },
        { jobId: done.a.job.id, ok: false, code: 'FINISHED', state: 'succeeded', message: expect.any(String) },
        { jobId: UNKNOWN_ID, ok: false, code: 'NOT_FOUND', message: expect.any(String) },
      ]);
      expect(await x.state(a.job.id)).toBe('running');
    });

    it('refuses a leaseExpiresBy that is not a finite number, changing nothing', async () => {
      const x = f();
      const a = await x.running('agent-1');
      const b = await x.running('agent-1');
      const before = await x.store.getJob(a.job.id);
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const err = await rejection(x.store.release([{ ...ref(a), error: AGENT_LOST }, releasedBy(b, bad)]));
        expect(err).toBeInstanceOf(ValidationError);
      }
      expect(await x.store.getJob(a.job.id)).toEqual(before);
      expect(await x.state(b.job.id)).toBe('running');
    });
  });
}
