import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS, RANDOM, UNKNOWN_ID, ref } from './fixture.js';

/** 6–7: start, heartbeat, outcomes and retries. */
export function lifecycleTests(f: () => Fixture): void {
  describe('start, heartbeat and complete', () => {
    it('runs assigned → running → succeeded, recording progress, result and times', async () => {
      const x = f();
      const a = await x.leased();
      const assignedAt = x.now;
      x.advance(5);
      expect(await x.store.start([ref(a)], LEASE_MS)).toEqual([{ jobId: a.job.id, ok: true, state: 'running' }]);
      const startedAt = x.now;
      expect(await x.store.getJob(a.job.id)).toMatchObject({ state: 'running', startedAt, progress: null });
      x.advance(10);
      expect(await x.store.heartbeat([{ ...ref(a), progress: 40 }], LEASE_MS)).toEqual([
        { jobId: a.job.id, ok: true, state: 'running' },
      ]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'running',
        progress: 40,
        startedAt,
        leaseExpiresAt: x.now + LEASE_MS,
      });
      x.advance(5);
      // A heartbeat without progress keeps the last one.
      await x.store.heartbeat([ref(a)], LEASE_MS);
      expect((await x.store.getJob(a.job.id))!.progress).toBe(40);
      x.advance(20);
      expect(await x.store.complete([x.succeed(a, { answer: 42 })])).toEqual([
        { jobId: a.job.id, ok: true, state: 'succeeded' },
      ]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'succeeded',
        result: { answer: 42 },
        error: null,
        progress: 100,
        attempts: 1,
        startedAt,
        finishedAt: x.now,
        leaseExpiresAt: null,
      });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        {
          attempt: 1,
          agentId: 'agent-1',
          assignedAt,
          startedAt,
          finishedAt: x.now,
          outcome: 'succeeded',
          error: null,
        },
      ]);
    });

    it('accepts a repeated start report, keeping the first start time', async () => {
      const x = f();
      const a = await x.leased();
      const startedAt = x.now;
      await x.store.start([ref(a)], LEASE_MS);
      x.advance(50);
      expect(await x.store.start([ref(a)], LEASE_MS)).toEqual([{ jobId: a.job.id, ok: true, state: 'running' }]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({ startedAt, leaseExpiresAt: x.now + LEASE_MS });
    });

    it('completes straight from assigned, taking the start time the agent reports', async () => {
      const x = f();
      const a = await x.leased();
      const reported = x.now + 3;
      x.advance(10);
      expect(await x.store.complete([{ ...x.succeed(a), startedAt: reported }])).toEqual([
        { jobId: a.job.id, ok: true, state: 'succeeded' },
      ]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'succeeded',
        startedAt: reported,
        finishedAt: x.now,
      });
      expect(await x.store.getAttempts(a.job.id)).toEqual([
        expect.objectContaining({ startedAt: reported, finishedAt: x.now, outcome: 'succeeded' }),
      ]);
      // Without a start report or a reported time, nothing is made up.
      const quiet = await x.leased();
      await x.store.complete([x.succeed(quiet)]);
      expect((await x.store.getJob(quiet.job.id))!.startedAt).toBeNull();
      expect((await x.store.getAttempts(quiet.job.id))[0]!.startedAt).toBeNull();
      // A start the store recorded wins over the one sent with the outcome.
      const b = await x.running();
      const recorded = x.now;
      x.advance(5);
      await x.store.complete([{ ...x.fail(b, false), startedAt: x.now - 1 }]);
      expect((await x.store.getJob(b.job.id))!.startedAt).toBe(recorded);
      expect((await x.store.getAttempts(b.job.id))[0]!.startedAt).toBe(recorded);
      // An attempt never starts after it finished.
      const c = await x.leased();
      await x.store.complete([{ ...x.fail(c, false), startedAt: x.now + 60_000 }]);
      const [attempt] = await x.store.getAttempts(c.job.id);
      expect(attempt!.startedAt).not.toBeNull();
      expect(attempt!.startedAt!).toBeLessThanOrEqual(attempt!.finishedAt!);
    });

    it('refuses a stale lease token and changes nothing', async () => {
      const x = f();
      const a = await x.running();
      await x.store.heartbeat([{ ...ref(a), progress: 10 }], LEASE_MS);
      const before = await x.store.getJob(a.job.id);
      x.advance(1000);
      const stale = { jobId: a.job.id, leaseToken: `${a.leaseToken}-stale` };
      const refusals = [
        ...(await x.store.complete([{ ...stale, outcome: 'succeeded', result: 'forged' }])),
        ...(await x.store.complete([
          { ...stale, outcome: 'failed', error: { code: 'X', message: 'x', retryable: false } },
        ])),
        ...(await x.store.heartbeat([{ ...stale, progress: 99 }], LEASE_MS)),
        ...(await x.store.start([stale], LEASE_MS)),
      ];
      for (const r of refusals) expect(r).toMatchObject({ jobId: a.job.id, ok: false, code: 'STALE_LEASE' });
      expect(await x.store.getJob(a.job.id)).toEqual(before);
      expect((await x.store.getAttempts(a.job.id))[0]).toMatchObject({ outcome: null, finishedAt: null });
    });

    it('refuses completing twice with FINISHED and unknown jobs with NOT_FOUND', async () => {
      const x = f();
      const a = await x.running();
      await x.store.complete([x.succeed(a, 'first')]);
      const after = await x.store.getJob(a.job.id);
      for (const item of [x.succeed(a, 'again'), x.fail(a)]) {
        expect((await x.store.complete([item]))[0]).toMatchObject({ jobId: a.job.id, ok: false, code: 'FINISHED' });
      }
      expect((await x.store.heartbeat([ref(a)], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'FINISHED' });
      expect(await x.store.getJob(a.job.id)).toEqual(after);
      const unknown = { jobId: UNKNOWN_ID, leaseToken: 'x' };
      expect(await x.store.complete([{ ...unknown, outcome: 'succeeded', result: null }])).toEqual([
        { jobId: UNKNOWN_ID, ok: false, code: 'NOT_FOUND', message: expect.any(String) },
      ]);
      expect((await x.store.start([unknown], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'NOT_FOUND' });
      expect((await x.store.heartbeat([unknown], LEASE_MS))[0]).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    });

    it('names the state a finished job ended in when its completion is sent again', async () => {
      // An agent whose first completion committed but lost its answer sends it again: the
      // refusal's state tells it that its own outcome was recorded.
      const x = f();
      const done = await x.running();
      await x.store.complete([x.succeed(done, 'first')]);
      const failed = await x.running();
      await x.store.complete([x.fail(failed, false)]);
      expect(await x.store.complete([x.succeed(done, 'first'), x.fail(failed, false)])).toEqual([
        { jobId: done.job.id, ok: false, code: 'FINISHED', state: 'succeeded', message: expect.any(String) },
        { jobId: failed.job.id, ok: false, code: 'FINISHED', state: 'failed', message: expect.any(String) },
      ]);
      expect(await x.store.getJob(done.job.id)).toMatchObject({ state: 'succeeded', result: 'first', attempts: 1 });
    });

    it('answers each item of a mixed batch on its own, in order', async () => {
      const x = f();
      const a = await x.running();
      const b = await x.running();
      const c = await x.leased();
      const results = await x.store.complete([
        x.succeed(a),
        { jobId: b.job.id, leaseToken: 'stale', outcome: 'succeeded', result: null },
        x.fail(b, false),
        x.succeed(c), // an assigned job may complete without a start report
        { jobId: UNKNOWN_ID, leaseToken: 'x', outcome: 'succeeded', result: null },
      ]);
      expect(results.map((r) => [r.jobId, r.ok ? r.state : r.code])).toEqual([
        [a.job.id, 'succeeded'],
        [b.job.id, 'STALE_LEASE'],
        [b.job.id, 'failed'],
        [c.job.id, 'succeeded'],
        [UNKNOWN_ID, 'NOT_FOUND'],
      ]);
    });
  });

  describe('retries and the dead letter', () => {
    it('delays a retryable failure by the backoff, promotes it when due, and dead-letters after maxAttempts', async () => {
      const x = f();
      const [id] = await x.enqueue(1, { maxAttempts: 3, backoffMs: 1000 });
      for (let attempt = 1; attempt <= 3; attempt++) {
        const a = await x.assign(id!);
        expect(a.job.attempts).toBe(attempt);
        await x.store.start([ref(a)], LEASE_MS);
        x.advance(7);
        const [r] = await x.store.complete([x.fail(a, true, `E${attempt}`)]);
        if (attempt === 3) {
          expect(r).toEqual({ jobId: id, ok: true, state: 'failed' });
          break;
        }
        expect(r).toEqual({ jobId: id, ok: true, state: 'delayed' });
        const delay = retryDelayMs(1000, attempt, () => RANDOM);
        const dueAt = x.now + delay;
        expect(await x.store.getJob(id!)).toMatchObject({
          state: 'delayed',
          runAt: dueAt,
          attempts: attempt,
          error: { code: `E${attempt}`, message: `boom E${attempt}`, retryable: true },
          leaseExpiresAt: null,
          finishedAt: null,
        });
        expect(await x.store.assign([{ jobId: id!, agentId: 'agent-2', gpus: [] }], LEASE_MS)).toEqual([]);
        x.advance(delay - 1);
        expect(await x.store.promoteDue()).toEqual({ promoted: 0, nextRunAt: dueAt });
        expect(await x.state(id!)).toBe('delayed');
        x.advance(1);
        expect(await x.store.promoteDue()).toEqual({ promoted: 1, nextRunAt: null });
        expect(await x.state(id!)).toBe('queued');
      }
      expect(await x.store.getJob(id!)).toMatchObject({
        state: 'failed',
        attempts: 3,
        finishedAt: x.now,
        error: { code: 'E3', message: 'boom E3', retryable: true },
      });
      expect((await x.store.getAttempts(id!)).map((t) => [t.attempt, t.outcome, t.error?.code])).toEqual([
        [1, 'failed', 'E1'],
        [2, 'failed', 'E2'],
        [3, 'failed', 'E3'],
      ]);
      expect(await x.store.pending([{ queue: x.queue, limit: 5 }])).toEqual([]);
    });

    it('grows the delay with each attempt', async () => {
      const x = f();
      const [id] = await x.enqueue(1, { maxAttempts: 4, backoffMs: 400 });
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        const a = await x.assign(id!);
        await x.store.complete([x.fail(a)]);
        delays.push((await x.store.getJob(id!))!.runAt - x.now);
        x.advance(delays[delays.length - 1]!);
        expect(await x.store.promoteDue()).toEqual({ promoted: 1, nextRunAt: null });
      }
      expect(delays).toEqual([1, 2, 3].map((attempt) => retryDelayMs(400, attempt, () => RANDOM)));
      expect(delays[0]).toBeLessThan(delays[1]!);
      expect(delays[1]).toBeLessThan(delays[2]!);
    });

    it('fails a non-retryable error at once, whatever attempts are left', async () => {
      const x = f();
      const a = await x.running('agent-1', { maxAttempts: 5 });
      expect(await x.store.complete([x.fail(a, false, 'BAD_INPUT')])).toEqual([
        { jobId: a.job.id, ok: true, state: 'failed' },
      ]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({
        state: 'failed',
        attempts: 1,
        finishedAt: x.now,
        error: { code: 'BAD_INPUT', retryable: false },
      });
    });

    it('requeues straight away when the backoff is zero', async () => {
      const x = f();
      const a = await x.running('agent-1', { backoffMs: 0 });
      expect(await x.store.complete([x.fail(a)])).toEqual([{ jobId: a.job.id, ok: true, state: 'queued' }]);
      expect(await x.store.getJob(a.job.id)).toMatchObject({ state: 'queued', agentId: null, leaseExpiresAt: null });
      expect((await x.store.pending([{ queue: x.queue, limit: 5 }])).map((p) => p.id)).toEqual([a.job.id]);
      expect((await x.assign(a.job.id, 'agent-2')).job.attempts).toBe(2);
    });

    it('promotes delayed jobs only when due and reports the next due time', async () => {
      const x = f();
      const [soon] = await x.enqueue(1, { runAt: x.now + 100 });
      const [late] = await x.enqueue(1, { runAt: x.now + 5000 });
      expect(await x.store.promoteDue()).toEqual({ promoted: 0, nextRunAt: x.now + 100 });
      x.advance(100);
      expect(await x.store.promoteDue()).toEqual({ promoted: 1, nextRunAt: x.now + 4900 });
      expect(await x.state(soon!)).toBe('queued');
      expect(await x.state(late!)).toBe('delayed');
    });

    it('promotes a backlog past one batch over calls, each answering a due nextRunAt while more are due', async () => {
      const x = f();
      const due = 1005; // more than a batch (1 000) where a backend batches
      await x.enqueue(due, { runAt: x.now + 10 });
      const [late] = await x.enqueue(1, { runAt: x.now + 5000 });
      x.advance(10);
      let promoted = 0;
      for (let call = 1; ; call++) {
        const out = await x.store.promoteDue();
        expect(out.promoted).toBeGreaterThan(0);
        promoted += out.promoted;
        if (promoted === due) {
          expect(out.nextRunAt).toBe(x.now + 4990);
          break;
        }
        // Stopped after a batch: the answer says more are due now.
        expect(out.nextRunAt).toBe(x.now);
        expect(call).toBeLessThan(2);
      }
      expect((await x.store.queueStats())[0]?.counts).toMatchObject({ queued: due, delayed: 1 });
      expect(await x.state(late!)).toBe('delayed');
    });
  });
}
