import { describe, expect, it } from 'vitest';
import type { Fixture } from './fixture.js';
import { LEASE_MS } from './fixture.js';

export function leaseTests(f: () => Fixture): void {
  describe('assignment, leases and outcomes', () => {
    it('assigns a queued job once, under a lease, counting the attempt', async () => {
      const x = f();
      const [id] = await x.enqueue();
      const [a] = await x.store.assign([{ jobId: id!, agentId: 'agent-1' }], LEASE_MS);
      expect(a!.leaseToken).toEqual(expect.any(String));
      expect(a!.job).toEqual({
        id,
        queue: x.queue,
        task: 'test.task',
        owner: 'alice',
        payload: { n: 1 },
        attempts: 1,
        maxAttempts: 3,
        timeoutMs: null,
        agentId: 'agent-1',
      });
      const stored = await x.store.getJob(id!);
      expect(stored).toMatchObject({
        state: 'assigned',
        attempts: 1,
        agentId: 'agent-1',
        leaseExpiresAt: x.now + LEASE_MS,
      });
      expect(await x.store.assign([{ jobId: id!, agentId: 'agent-2' }], LEASE_MS)).toEqual([]);
      expect(await x.store.assign([{ jobId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', agentId: 'agent-2' }], LEASE_MS)).toEqual([]);
      expect((await x.store.getJob(id!))!.agentId).toBe('agent-1');
    });

    it('assigns a thousand jobs in one call', async () => {
      const x = f();
      const ids = await x.enqueue(1000);
      const assigned = await x.store.assign(
        ids.map((jobId, i) => ({ jobId, agentId: `agent-${i % 7}` })),
        LEASE_MS,
      );
      expect(assigned).toHaveLength(1000);
      expect(new Set(assigned.map((a) => a.leaseToken)).size).toBe(1000);
      expect(await x.store.pending([{ queue: x.queue, limit: 10 }])).toEqual([]);
    });

    it('runs start → heartbeat → succeeded, recording progress, result and times', async () => {
      const x = f();
      const a = await x.leased();
      const ref = { jobId: a.job.id, leaseToken: a.leaseToken };
      x.advance(5);
      expect(await x.store.start([ref], LEASE_MS)).toEqual([{ jobId: a.job.id, ok: true, state: 'running' }]);
      x.advance(10);
      expect(await x.store.heartbeat([{ ...ref, progress: 40 }], LEASE_MS)).toEqual([
        { jobId: a.job.id, ok: true, state: 'running' },
      ]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'running',
        progress: 40,
        startedAt: x.now - 10,
        leaseExpiresAt: x.now + LEASE_MS,
      });
      x.advance(20);
      expect(await x.store.complete([x.succeed(a, { answer: 42 })])).toEqual([
        { jobId: a.job.id, ok: true, state: 'succeeded' },
      ]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'succeeded',
        result: { answer: 42 },
        progress: 100,
        finishedAt: x.now,
        leaseExpiresAt: null,
      });
      const [attempt] = await x.store.getAttempts(a.job.id);
      expect(attempt).toEqual({
        attempt: 1,
        agentId: 'agent-1',
        assignedAt: x.now - 35,
        startedAt: x.now - 30,
        finishedAt: x.now,
        outcome: 'succeeded',
        error: null,
      });
    });

    it('completes a job straight from assigned, taking the start time the agent reports', async () => {
      const x = f();
      const a = await x.leased();
      const startedAt = x.now + 3;
      x.advance(10);
      const [r] = await x.store.complete([{ ...x.succeed(a), startedAt }]);
      expect(r).toEqual({ jobId: a.job.id, ok: true, state: 'succeeded' });
      expect(await x.store.getJob(a.job.id)).toMatchObject({ state: 'succeeded', startedAt, finishedAt: x.now });
      expect((await x.store.getAttempts(a.job.id))[0]).toMatchObject({
        startedAt,
        finishedAt: x.now,
        outcome: 'succeeded',
      });
      // A start already recorded wins over a late report, and a retried job's start is its own.
      const b = await x.running('agent-1', { backoffMs: 0 });
      const realStart = x.now;
      x.advance(5);
      await x.store.complete([{ ...x.fail(b), startedAt: x.now }]);
      expect((await x.store.getAttempts(b.job.id))[0]!.startedAt).toBe(realStart);
      const [again] = await x.store.assign([{ jobId: b.job.id, agentId: 'agent-2' }], LEASE_MS);
      expect((await x.store.getJob(b.job.id))!.startedAt).toBeNull();
      x.advance(5);
      await x.store.complete([{ ...x.fail(again!, false), startedAt: x.now - 2 }]);
      expect(await x.store.getJob(b.job.id)).toMatchObject({ state: 'failed', startedAt: x.now - 2 });
    });

    it('refuses reports with a stale token, twice-completed jobs and unknown jobs, changing nothing', async () => {
      const x = f();
      const a = await x.running();
      const stale = { jobId: a.job.id, leaseToken: 'not-the-token' };
      const [r1] = await x.store.complete([{ ...stale, outcome: 'succeeded', result: 'forged' }]);
      expect(r1).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.heartbeat([stale], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect((await x.store.start([stale], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      expect(await x.store.getJob(a.job.id)).toMatchObject({ state: 'running', result: null });
      await x.store.complete([x.succeed(a)]);
      expect((await x.store.complete([x.succeed(a, 'again')]))[0]).toMatchObject({ ok: false, code: 'FINISHED' });
      expect((await x.store.complete([x.fail(a)]))[0]).toMatchObject({ ok: false, code: 'FINISHED' });
      expect((await x.store.getJob(a.job.id))!.result).toEqual({ ok: true });
      const unknown = { jobId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', leaseToken: 'x' };
      expect((await x.store.complete([{ ...unknown, outcome: 'succeeded', result: null }]))[0]).toMatchObject({
        ok: false,
        code: 'NOT_FOUND',
      });
      const attempts = await x.store.getAttempts(a.job.id);
      expect(attempts.filter((t) => t.outcome === 'succeeded')).toHaveLength(1);
    });

    it('answers each item of a mixed batch on its own', async () => {
      const x = f();
      const a = await x.running();
      const b = await x.running();
      const results = await x.store.complete([
        x.succeed(a),
        { jobId: b.job.id, leaseToken: 'stale', outcome: 'succeeded', result: null },
        x.fail(b, false),
      ]);
      expect(results.map((r) => (r.ok ? r.state : r.code))).toEqual(['succeeded', 'STALE_LEASE', 'failed']);
    });

    it('requeues a job whose lease ran out, refuses the old holder, and counts the next attempt', async () => {
      const x = f();
      const a = await x.running('agent-dead');
      expect(await x.store.expireLeases()).toEqual({ requeued: [], failed: [], nextExpiryAt: x.now + LEASE_MS });
      x.advance(LEASE_MS + 1);
      const expired = await x.store.expireLeases();
      expect(expired).toEqual({ requeued: [a.job.id], failed: [], nextExpiryAt: null });
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'queued',
        agentId: null,
        error: { code: 'LEASE_EXPIRED' },
      });
      expect((await x.store.complete([x.succeed(a)]))[0]).toMatchObject({ ok: false, code: 'STALE_LEASE' });
      const [again] = await x.store.assign([{ jobId: a.job.id, agentId: 'agent-2' }], LEASE_MS);
      expect(again!.job.attempts).toBe(2);
      expect(again!.leaseToken).not.toBe(a.leaseToken);
      await x.store.complete([x.succeed(again!)]);
      const attempts = await x.store.getAttempts(a.job.id);
      expect(attempts.map((t) => [t.attempt, t.agentId, t.outcome])).toEqual([
        [1, 'agent-dead', 'lease_expired'],
        [2, 'agent-2', 'succeeded'],
      ]);
      expect(attempts[0]!.error).toMatchObject({ code: 'LEASE_EXPIRED' });
    });

    it('keeps a lease alive while heartbeats arrive', async () => {
      const x = f();
      const a = await x.running();
      for (let i = 0; i < 5; i++) {
        x.advance(LEASE_MS - 1);
        await x.store.heartbeat([{ jobId: a.job.id, leaseToken: a.leaseToken }], LEASE_MS);
        expect((await x.store.expireLeases()).requeued).toEqual([]);
      }
      expect(await x.state(a.job.id)).toBe('running');
    });

    it('fails a job whose lease runs out on its last attempt', async () => {
      const x = f();
      const a = await x.leased('agent-1', { maxAttempts: 1 });
      x.advance(LEASE_MS);
      expect((await x.store.expireLeases()).failed).toEqual([a.job.id]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'failed',
        finishedAt: x.now,
        error: { code: 'LEASE_EXPIRED' },
      });
    });
  });
}
