import { describe, expect, it } from 'vitest';
import type { Fixture } from './fixture.js';
import { LEASE_MS, ref } from './fixture.js';

/** 8: lease expiry and renewal. */
export function leaseTests(f: () => Fixture): void {
  describe('lease expiry', () => {
    it('reports when the next lease runs out and expires nothing before then', async () => {
      const x = f();
      const a = await x.running();
      x.advance(100);
      const b = await x.leased();
      expect(await x.store.expireLeases()).toEqual({ requeued: [], failed: [], nextExpiryAt: x.now - 100 + LEASE_MS });
      x.advance(LEASE_MS - 101);
      expect(await x.store.expireLeases()).toEqual({ requeued: [], failed: [], nextExpiryAt: x.now + 1 });
      x.advance(1); // a's lease ends exactly now
      expect(await x.store.expireLeases()).toEqual({ requeued: [a.job.id], failed: [], nextExpiryAt: x.now + 100 });
      expect(await x.state(b.job.id)).toBe('assigned');
    });

    it('requeues a running job whose lease ran out, refuses the old holder, and counts the next attempt', async () => {
      const x = f();
      const a = await x.running('agent-dead');
      x.advance(LEASE_MS + 1);
      expect(await x.store.expireLeases()).toEqual({ requeued: [a.job.id], failed: [], nextExpiryAt: null });
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'queued',
        attempts: 1,
        agentId: null,
        leaseExpiresAt: null,
        finishedAt: null,
        error: { code: 'LEASE_EXPIRED', retryable: true },
      });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        expect.objectContaining({
          attempt: 1,
          agentId: 'agent-dead',
          outcome: 'lease_expired',
          finishedAt: x.now,
          error: expect.objectContaining({ code: 'LEASE_EXPIRED' }),
        }),
      ]);
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.heartbeat([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect(await x.state(a.job.id)).toBe('queued');

      const again = await x.assign(a.job.id, 'agent-2');
      expect(again.job.attempts).toBe(2);
      expect(again.leaseToken).not.toBe(a.leaseToken);
      // The dead agent's token stays refused under the new lease too.
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.complete([x.succeed(again, 'second')]))[0]).toMatchObject({ ok: true, state: 'succeeded' });
      expect(await x.store.getJob(a.job.id)).toMatchObject({ state: 'succeeded', attempts: 2, result: 'second' });
    });

    it('expires an assigned job that was never started', async () => {
      const x = f();
      const a = await x.leased();
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [a.job.id], failed: [], nextExpiryAt: null });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        expect.objectContaining({ attempt: 1, startedAt: null, outcome: 'lease_expired' }),
      ]);
      expect((await x.store.start([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
    });

    it('fails a job whose lease runs out on its last attempt, with LEASE_EXPIRED', async () => {
      const x = f();
      const [id] = await x.enqueue(1, { maxAttempts: 2 });
      await x.assign(id!);
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [id!], failed: [], nextExpiryAt: null });
      const last = await x.assign(id!);
      await x.store.start([ref(last)], LEASE_MS);
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [], failed: [id!], nextExpiryAt: null });
      expect(await x.store.getJob(id!)).toMatchObject({
        state: 'failed',
        attempts: 2,
        finishedAt: x.now,
        leaseExpiresAt: null,
        error: { code: 'LEASE_EXPIRED' },
      });
      expect((await x.store.getAttempts(id!)).map((t) => t.outcome)).toEqual(['lease_expired', 'lease_expired']);
      expect((await x.store.complete([x.succeed(last)]))[0]).toMatchObject({ ok: false, code: 'FINISHED' });
    });

    it('renews the lease on heartbeat, so a job heartbeating in time never expires', async () => {
      const x = f();
      const a = await x.running();
      for (let i = 0; i < 5; i++) {
        x.advance(LEASE_MS - 1);
        expect((await x.store.heartbeat([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: true, state: 'running' });
        expect((await x.store.getJob(a.job.id))!.leaseExpiresAt).toBe(x.now + LEASE_MS);
        expect(await x.store.expireLeases()).toEqual({ requeued: [], failed: [], nextExpiryAt: x.now + LEASE_MS });
      }
      expect(await x.state(a.job.id)).toBe('running');
      // Heartbeats stop: the lease runs out one lease after the last one.
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [a.job.id], failed: [], nextExpiryAt: null });
    });

    it('expires a backlog past one batch over calls, each answering a due nextExpiryAt while more are due', async () => {
      const x = f();
      const count = 1005; // more than a batch (1 000)
      const ids = await x.enqueue(count);
      const assigned = await x.store.assign(
        ids.map((jobId) => ({ jobId, agentId: 'agent-dead', gpus: [] })),
        LEASE_MS,
      );
      expect(assigned).toHaveLength(count);
      x.advance(LEASE_MS);
      const requeued: string[] = [];
      for (let call = 1; ; call++) {
        const out = await x.store.expireLeases();
        expect(out.failed).toEqual([]);
        expect(out.requeued.length).toBeGreaterThan(0);
        requeued.push(...out.requeued);
        if (requeued.length === count) {
          expect(out.nextExpiryAt).toBeNull();
          break;
        }
        // Stopped after a batch: the answer says more have run out now.
        expect(out.nextExpiryAt).toBe(x.now);
        expect(call).toBeLessThan(2);
      }
      expect([...requeued].sort()).toEqual([...ids].sort());
    });

    it('renews the lease on start as well', async () => {
      const x = f();
      const a = await x.leased();
      x.advance(LEASE_MS - 1);
      await x.store.start([ref(a)], LEASE_MS);
      x.advance(LEASE_MS - 1);
      expect(await x.store.expireLeases()).toEqual({ requeued: [], failed: [], nextExpiryAt: x.now + 1 });
      expect(await x.state(a.job.id)).toBe('running');
    });
  });
}
