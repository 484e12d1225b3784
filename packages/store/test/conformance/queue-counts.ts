import { describe, expect, it } from 'vitest';
import type { JobState } from '@baton/core';
import { JOB_STATES } from '@baton/core';
import { copyUnfinishedJobs, openStore } from '@baton/store';
import type { Fixture } from './fixture.js';
import { LEASE_MS, ref } from './fixture.js';

type Counts = Record<JobState, number>;

/**
 * A clock window for the retention step, long before every other test's time (T0 is in 2027,
 * the retention tests' windows lie near 2001): a cut-off in it meets only this test's jobs.
 */
const COUNTS_T0 = 500_000_000_000;

/** A queue's counts as queueStats reports them; all zero when the queue is not listed. */
async function reported(x: Fixture, queue: string): Promise<Counts> {
  const stats = (await x.store.queueStats()).find((s) => s.queue === queue);
  return stats?.counts ?? (Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Counts);
}

/** A queue's counts by reading every job of it: what the counters must agree with. */
async function counted(x: Fixture, queue: string): Promise<Counts> {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Counts;
  let cursor: string | undefined;
  do {
    const page = await x.store.listJobs({ queue, limit: 100, ...(cursor !== undefined && { cursor }) });
    for (const job of page.jobs) counts[job.state]++;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return counts;
}

/** Checks queueStats' counts of `queue` against `expected` (the states not named are 0) and the jobs. */
async function expectCounts(x: Fixture, expected: Partial<Counts>, queue = x.queue): Promise<void> {
  const want = { ...(Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Counts), ...expected };
  expect(await counted(x, queue)).toEqual(want);
  expect(await reported(x, queue)).toEqual(want);
}

/** 18: queueStats counts, kept with the transitions (counters, not scans), stay exact. */
export function queueCountTests(f: () => Fixture): void {
  describe('queueStats counts through transitions', () => {
    it('stay exact through enqueue, promotion, assignment, start, completion, retry, release and cancel', async () => {
      const x = f();
      await expectCounts(x, {});
      const ids = await x.enqueue(6, { maxAttempts: 2, backoffMs: 0 });
      const [d1, d2] = await x.enqueue(2, { runAt: x.now + 1000, maxAttempts: 2, backoffMs: 5000 });
      await x.enqueue(1, { queue: x.otherQueue('b') });
      await expectCounts(x, { queued: 6, delayed: 2 });
      await expectCounts(x, { queued: 1 }, x.otherQueue('b'));

      x.advance(1000);
      expect((await x.store.promoteDue()).promoted).toBe(2);
      await expectCounts(x, { queued: 8 });

      const [j0, j1, j2, j3, j4, j5] = ids as [string, string, string, string, string, string];
      const leases = await x.store.assign(
        [j0, j1, j2, j3, d1!, d2!].map((jobId) => ({ jobId, agentId: 'agent-1', gpus: [] })),
        LEASE_MS,
      );
      expect(leases).toHaveLength(6);
      const [a0, a1, a2, a3, ad1, ad2] = leases as [
        (typeof leases)[0],
        (typeof leases)[0],
        (typeof leases)[0],
        (typeof leases)[0],
        (typeof leases)[0],
        (typeof leases)[0],
      ];
      await expectCounts(x, { queued: 2, assigned: 6 });
      expect((await x.store.start([ref(a0), ref(a1), ref(ad1)], LEASE_MS)).every((r) => r.ok)).toBe(true);
      await expectCounts(x, { queued: 2, assigned: 3, running: 3 });
      // A second start and a heartbeat move nothing between counts.
      await x.store.start([ref(a0)], LEASE_MS);
      await x.store.heartbeat([ref(a0), ref(a2)], LEASE_MS);
      await expectCounts(x, { queued: 2, assigned: 3, running: 3 });

      // One batch: success, final failure, a retry due now (queued), a retry with backoff (delayed).
      const done = await x.store.complete([x.succeed(a0), x.fail(a1, false), x.fail(a2), x.fail(ad1)]);
      expect(done.map((r) => r.ok && r.state)).toEqual(['succeeded', 'failed', 'queued', 'delayed']);
      await expectCounts(x, { queued: 3, delayed: 1, assigned: 2, succeeded: 1, failed: 1 });

      // Release: back to queued with attempts left; failed on the last one.
      const [again] = await x.store.assign([{ jobId: j2, agentId: 'agent-2', gpus: [] }], LEASE_MS);
      await expectCounts(x, { queued: 2, delayed: 1, assigned: 3, succeeded: 1, failed: 1 });
      const error = { code: 'GPU_LOST', message: 'gone', retryable: true };
      const released = await x.store.release([
        { ...ref(a3), error },
        { ...ref(again!), error },
      ]);
      expect(released.map((r) => r.ok && r.state)).toEqual(['queued', 'failed']);
      await expectCounts(x, { queued: 3, delayed: 1, assigned: 1, succeeded: 1, failed: 2 });

      // Cancel from every state that allows it.
      const r5 = await x.assign(j5);
      await x.store.start([ref(r5)], LEASE_MS);
      await x.store.cancel(j4);
      await x.store.cancel(d1!);
      await x.store.cancel(ad2.job.id);
      await x.store.cancel(j5);
      await expectCounts(x, { queued: 1, succeeded: 1, failed: 2, cancelled: 4 });
      await expectCounts(x, { queued: 1 }, x.otherQueue('b'));
    });

    it('stay exact through refused transitions and repeated idempotency keys', async () => {
      const x = f();
      const [first] = await x.store.enqueue([x.job({ idempotencyKey: 'k' }), x.job({ idempotencyKey: 'k' })]);
      expect((await x.store.enqueue([x.job({ idempotencyKey: 'k' })]))[0]!.created).toBe(false);
      await expectCounts(x, { queued: 1 });
      const a = await x.assign(first!.job.id);
      // Assigned twice, started with a stale token, completed twice, cancelled when final.
      expect(await x.store.assign([{ jobId: a.job.id, agentId: 'agent-2', gpus: [] }], LEASE_MS)).toEqual([]);
      expect((await x.store.start([{ jobId: a.job.id, leaseToken: 'stale' }], LEASE_MS))[0]!.ok).toBe(false);
      await expectCounts(x, { assigned: 1 });
      expect((await x.store.complete([x.succeed(a)]))[0]!.ok).toBe(true);
      expect((await x.store.complete([x.succeed(a)]))[0]!.ok).toBe(false);
      expect((await x.store.complete([x.fail(a)]))[0]!.ok).toBe(false);
      expect((await x.store.release([{ ...ref(a), error: { code: 'X', message: 'x', retryable: true } }]))[0]!.ok).toBe(
        false,
      );
      await expect(x.store.cancel(a.job.id)).rejects.toMatchObject({ code: 'JOB_FINISHED' });
      await expectCounts(x, { succeeded: 1 });
    });

    it('stay exact through lease expiry, requeued or failed', async () => {
      const x = f();
      const retried = await x.running('agent-1', { maxAttempts: 2 });
      const last = await x.leased('agent-1', { maxAttempts: 1 });
      await expectCounts(x, { running: 1, assigned: 1 });
      x.advance(LEASE_MS + 1);
      const expired = await x.store.expireLeases();
      expect(expired.requeued).toEqual([retried.job.id]);
      expect(expired.failed).toEqual([last.job.id]);
      await expectCounts(x, { queued: 1, failed: 1 });
    });

    it('stay exact through retention: deleteFinished of every final state and of one', async () => {
      const x = f();
      x.now = COUNTS_T0;
      const ok = await x.running();
      await x.store.complete([x.succeed(ok)]);
      const bad = await x.running('agent-1', { maxAttempts: 1 });
      await x.store.complete([x.fail(bad, false)]);
      const [c1, c2] = await x.enqueue(2);
      await x.store.cancel(c1!);
      await x.store.cancel(c2!);
      await x.enqueue(1, { queue: x.otherQueue('kept') });
      const still = await x.running();
      await expectCounts(x, { succeeded: 1, failed: 1, cancelled: 2, running: 1 });
      x.advance(10);

      expect(await x.store.deleteFinished(x.now, 10, 'cancelled')).toEqual({ deleted: 2 });
      await expectCounts(x, { succeeded: 1, failed: 1, running: 1 });
      expect(await x.store.deleteFinished(x.now, 10)).toEqual({ deleted: 2 });
      await expectCounts(x, { running: 1 });
      await x.store.complete([x.succeed(still)]);
      x.advance(10);
      expect(await x.store.deleteFinished(x.now, 10, 'succeeded')).toEqual({ deleted: 1 });
      await expectCounts(x, {});
      expect((await x.store.queueStats()).find((s) => s.queue === x.queue)).toBeUndefined();
      await expectCounts(x, { queued: 1 }, x.otherQueue('kept'));
    });

    it('stay exact through a store copy into this backend, and a repeated one', async () => {
      const x = f();
      const from = await openStore('sqlite::memory:', { clock: () => x.now });
      try {
        // One job of each unfinished state, and a finished one, which stays behind.
        const [leased, running, done] = (await from.enqueue([x.job(), x.job(), x.job(), x.job()])).map((r) => r.job.id);
        await from.enqueue([x.job({ runAt: x.now + 60_000 })]);
        const [, b, c] = await from.assign(
          [leased!, running!, done!].map((jobId) => ({ jobId, agentId: 'agent-1', gpus: [] })),
          LEASE_MS,
        );
        await from.start([ref(b!)], LEASE_MS);
        await from.complete([{ ...ref(c!), outcome: 'succeeded', result: null }]);
        await x.enqueue(1);
        expect((await copyUnfinishedJobs(from, x.store, { now: x.now })).copied).toBe(4);
        // Held jobs arrive queued.
        await expectCounts(x, { queued: 4, delayed: 1 });
        expect((await copyUnfinishedJobs(from, x.store, { now: x.now })).copied).toBe(0);
        await expectCounts(x, { queued: 4, delayed: 1 });
      } finally {
        await from.close();
      }
    });

    it('report the oldest queued job’s wait as the queue head changes', async () => {
      const x = f();
      const [first] = await x.enqueue(1, { backoffMs: 0 });
      x.advance(100);
      const [later] = await x.enqueue(1, { runAt: x.now + 50 });
      x.advance(50);
      const [second] = await x.enqueue(1);
      x.advance(10);
      await x.store.promoteDue();
      const age = async () => (await x.store.queueStats()).find((s) => s.queue === x.queue)?.oldestQueuedAgeMs;
      expect(await age()).toBe(160);
      // The oldest leaves: the promoted job, runnable since its runAt, is the oldest now.
      const a = await x.assign(first!);
      expect(await age()).toBe(10);
      // Back to queued after a retry: it waits from the retry, behind the others.
      x.advance(5);
      await x.store.complete([x.fail(a)]);
      expect(await age()).toBe(15);
      await x.store.cancel(second!);
      expect(await age()).toBe(15);
      await x.assign(later!);
      x.advance(20);
      expect(await age()).toBe(20);
      await x.assign(first!);
      expect(await age()).toBeNull();
    });
  });
}
