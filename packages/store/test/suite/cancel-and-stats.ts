import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '@baton/core';
import type { StoreEvent } from '@baton/store';
import type { Fixture } from './fixture.js';

export function cancelAndStatsTests(f: () => Fixture): void {
  describe('cancellation, statistics and events', () => {
    it('cancels queued and delayed jobs at once', async () => {
      const x = f();
      const [queued] = await x.enqueue();
      const [delayed] = await x.enqueue(1, { runAt: x.now + 60_000 });
      expect(await x.store.cancel(queued!)).toMatchObject({ id: queued, state: 'cancelled', finishedAt: x.now });
      expect((await x.store.cancel(delayed!)).state).toBe('cancelled');
      expect(await x.store.pending([{ queue: x.queue, limit: 5 }])).toEqual([]);
      x.advance(60_000);
      await x.store.promoteDue();
      expect(await x.state(delayed!)).toBe('cancelled');
    });

    it('cancels a running job: its lease is revoked and its report refused', async () => {
      const x = f();
      const a = await x.running();
      expect((await x.store.cancel(a.job.id)).state).toBe('cancelled');
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: false, code: 'CANCELLED' });
      expect((await x.store.heartbeat([{ jobId: a.job.id, leaseToken: a.leaseToken }], 1000))[0]).toMatchObject({
        ok: false,
        code: 'CANCELLED',
      });
      expect(await x.state(a.job.id)).toBe('cancelled');
      expect((await x.store.getAttempts(a.job.id))[0]!.outcome).toBe('cancelled');
      x.advance(1_000_000);
      expect((await x.store.expireLeases()).requeued).not.toContain(a.job.id);
    });

    it('refuses to cancel a finished or unknown job', async () => {
      const x = f();
      const a = await x.running();
      await x.store.complete([x.succeed(a)]);
      const finished = await x.store.cancel(a.job.id).catch((e: unknown) => e);
      expect(finished).toBeInstanceOf(ConflictError);
      expect((finished as ConflictError).code).toBe('JOB_FINISHED');
      const unknown = await x.store.cancel('01ARZ3NDEKTSV4RRFFQ69G5FAV').catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(NotFoundError);
      expect((unknown as NotFoundError).code).toBe('JOB_NOT_FOUND');
    });

    it('counts jobs per queue and state, with the age of the oldest queued job', async () => {
      const x = f();
      await x.enqueue(3);
      x.advance(500);
      await x.enqueue(1, { runAt: x.now + 1000 });
      const a = await x.running();
      await x.store.complete([x.fail(a, false)]);
      x.advance(250);
      const stats = (await x.store.queueStats()).find((s) => s.queue === x.queue);
      expect(stats).toEqual({
        queue: x.queue,
        counts: { delayed: 1, queued: 3, assigned: 0, running: 0, succeeded: 0, failed: 1, cancelled: 0 },
        oldestQueuedAgeMs: 750,
      });
    });

    it('announces enqueues and cancellations to subscribers until they unsubscribe', async () => {
      const x = f();
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      await x.enqueue();
      const a = await x.leased('agent-9');
      await x.store.cancel(a.job.id);
      await new Promise((r) => setTimeout(r, 50)); // networked backends deliver asynchronously
      expect(events).toContainEqual({ type: 'enqueued', queues: [x.queue] });
      expect(events).toContainEqual({ type: 'cancelled', jobId: a.job.id, agentId: 'agent-9' });
      unsubscribe();
      const count = events.length;
      await x.enqueue();
      await new Promise((r) => setTimeout(r, 50));
      expect(events).toHaveLength(count);
    });
  });
}
