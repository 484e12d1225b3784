import { describe, expect, it } from 'vitest';
import { ValidationError } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS, ref, rejection } from './fixture.js';

/** 17: retention of finished jobs. */
export function retentionTests(f: () => Fixture): void {
  describe('deleteFinished', () => {
    it('deletes final jobs finished before the cut-off, oldest first, up to the limit, with their history and output', async () => {
      const x = f();
      const t = x.now;
      // Created in one order, finished in another.
      const [first, second, third, young] = await x.enqueue(4, { maxAttempts: 2, backoffMs: 0 });
      // first: fails once (an attempt row), then succeeds at t+30, with output of both attempts.
      const a1 = await x.assign(first!);
      await x.store.appendLogs([{ jobId: first!, attempt: 1, stream: 'stdout', data: 'try 1' }]);
      x.advance(5);
      await x.store.complete([x.fail(a1, true)]);
      // second: fails for good at t+10.
      const b = await x.assign(second!);
      await x.store.start([ref(b)], LEASE_MS);
      await x.store.appendLogs([{ jobId: second!, attempt: 1, stream: 'stderr', data: 'oops' }]);
      x.advance(5);
      await x.store.complete([x.fail(b, false)]);
      const a2 = await x.assign(first!);
      await x.store.appendLogs([{ jobId: first!, attempt: 2, stream: 'stdout', data: 'try 2' }]);
      x.advance(20);
      await x.store.complete([x.succeed(a2)]);
      // third: cancelled at t+40; young: succeeds at t+50, the cut-off's own time.
      x.advance(10);
      await x.store.cancel(third!);
      const y = await x.assign(young!);
      x.advance(10);
      await x.store.complete([x.succeed(y)]);
      expect(await x.store.getJob(second!)).toMatchObject({ state: 'failed', finishedAt: t + 10 });
      expect(await x.store.getJob(first!)).toMatchObject({ state: 'succeeded', finishedAt: t + 30 });
      expect(await x.store.getJob(third!)).toMatchObject({ state: 'cancelled', finishedAt: t + 40 });
      expect(await x.store.getJob(young!)).toMatchObject({ state: 'succeeded', finishedAt: t + 50 });
      // Jobs that are not final, created before all of them: never touched.
      x.now = t - 1000;
      const [queued] = await x.enqueue();
      const [delayed] = await x.enqueue(1, { runAt: t + 1_000_000 });
      const running = await x.running();
      await x.store.appendLogs([{ jobId: running.job.id, attempt: 1, stream: 'stdout', data: 'still going' }]);
      x.now = t + 60;

      const cutoff = t + 50;
      // Oldest first: by finish time (second at t+10, then first at t+30), but SQLite, as its
      // contract says, by creation (first, then second); the cut-off's own job stays.
      const order = x.store.backend === 'sqlite' ? [first!, second!, third!] : [second!, first!, third!];
      const left = async () =>
        (await Promise.all(order.map(async (id) => ((await x.store.getJob(id)) ? id : null)))).filter(Boolean);
      expect(await x.store.deleteFinished(cutoff, 1)).toEqual({ deleted: 1 });
      expect(await left()).toEqual(order.slice(1));
      expect(await x.store.deleteFinished(cutoff, 1)).toEqual({ deleted: 1 });
      expect(await left()).toEqual(order.slice(2));
      expect(await x.store.deleteFinished(cutoff, 10)).toEqual({ deleted: 1 });
      expect(await x.store.deleteFinished(cutoff, 10)).toEqual({ deleted: 0 });

      for (const id of [first!, second!, third!]) {
        expect(await x.store.getJob(id)).toBeNull();
        expect(await x.store.getAttempts(id)).toEqual([]);
        expect(await x.store.getLogs(id)).toEqual([]);
      }
      expect(await x.store.getJob(young!)).toMatchObject({ state: 'succeeded', finishedAt: t + 50 });
      expect(await x.store.getAttempts(young!)).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
      expect(await x.state(queued!)).toBe('queued');
      expect(await x.state(delayed!)).toBe('delayed');
      expect(await x.store.getJob(running.job.id)).toMatchObject({ state: 'running', finishedAt: null });
      expect((await x.store.getLogs(running.job.id)).map((c) => c.data)).toEqual(['still going']);

      const kept = [young!, queued!, delayed!, running.job.id].sort().reverse();
      const ids = async (query: Parameters<typeof x.store.listJobs>[0]) =>
        (await x.store.listJobs(query)).jobs.map((j) => j.id);
      expect(await ids({ queue: x.queue, limit: 10 })).toEqual(kept);
      expect(await ids({ owner: x.owner, limit: 10 })).toEqual(kept);
      expect(await ids({ queue: x.queue, state: 'succeeded', limit: 10 })).toEqual([young]);
      for (const state of ['failed', 'cancelled'] as const) {
        expect(await ids({ queue: x.queue, state, limit: 10 })).toEqual([]);
        expect(await ids({ state, limit: 10 })).toEqual([]);
      }
      expect(await ids({ limit: 10 })).toEqual(kept);
      const stats = await x.store.queueStats();
      expect(stats.map((q) => q.queue)).toEqual([x.queue]);
      expect(stats[0]?.counts).toEqual({
        blocked: 0,
        delayed: 1,
        queued: 1,
        assigned: 0,
        running: 1,
        succeeded: 1,
        failed: 0,
        cancelled: 0,
        skipped: 0,
      });
    });

    it('never deletes a job that is not final, however old, nor one finished at or after the cut-off', async () => {
      const x = f();
      const t = x.now;
      const [queued] = await x.enqueue();
      const [delayed] = await x.enqueue(1, { runAt: t + 1_000_000 });
      const assigned = await x.leased();
      const running = await x.running();
      // Requeued after a failed attempt: it has history, and a finish time on that attempt only.
      const retried = await x.running('agent-1', { backoffMs: 0 });
      x.advance(10);
      await x.store.complete([x.fail(retried, true)]);
      const done = await x.leased();
      x.advance(10);
      await x.store.complete([x.succeed(done)]);
      x.advance(1000);

      expect(await x.store.deleteFinished(t + 20, 100)).toEqual({ deleted: 0 });
      expect(await x.store.getJob(done.job.id)).toMatchObject({ state: 'succeeded', finishedAt: t + 20 });
      expect(await x.store.getJob(retried.job.id)).toMatchObject({ state: 'queued', attempts: 1 });
      expect(await x.store.getAttempts(retried.job.id)).toHaveLength(1);
      const states = await Promise.all(
        [queued!, delayed!, assigned.job.id, running.job.id, retried.job.id].map((id) => x.state(id)),
      );
      expect(states).toEqual(['queued', 'delayed', 'assigned', 'running', 'queued']);
      // A limit below 1 deletes nothing, even when a job qualifies.
      expect(await x.store.deleteFinished(t + 21, 0)).toEqual({ deleted: 0 });
      expect(await x.store.deleteFinished(t + 21, -5)).toEqual({ deleted: 0 });
      expect(await x.state(done.job.id)).toBe('succeeded');
      expect(await x.store.deleteFinished(t + 21, 100)).toEqual({ deleted: 1 });
      expect(await x.store.getJob(done.job.id)).toBeNull();
    });

    it('frees the idempotency keys of deleted jobs: the same key creates a new job', async () => {
      const x = f();
      const [kept] = await x.enqueue(1, { idempotencyKey: 'still-running' });
      const a = await x.leased('agent-1', { idempotencyKey: 'nightly' });
      const c = (await x.store.enqueue([x.job({ idempotencyKey: 'cancelled' })]))[0]!.job.id;
      x.advance(10);
      await x.store.complete([x.succeed(a)]);
      await x.store.cancel(c);
      // While the job exists, its key names it.
      const again = await x.store.enqueue([x.job({ idempotencyKey: 'nightly' })]);
      expect(again).toEqual([{ job: expect.objectContaining({ id: a.job.id }), created: false }]);

      x.advance(10);
      expect(await x.store.deleteFinished(x.now, 10)).toEqual({ deleted: 2 });
      const fresh = x.job({ idempotencyKey: 'nightly' });
      const results = await x.store.enqueue([
        fresh,
        x.job({ idempotencyKey: 'nightly' }),
        x.job({ idempotencyKey: 'cancelled' }),
        x.job({ idempotencyKey: 'still-running' }),
      ]);
      expect(results.map((r) => r.created)).toEqual([true, false, true, false]);
      expect(results[0]!.job).toMatchObject({ id: fresh.id, state: 'queued', idempotencyKey: 'nightly' });
      expect(results[1]!.job.id).toBe(fresh.id);
      expect(results[2]!.job.id).not.toBe(c);
      expect(results[3]!.job.id).toBe(kept);
      expect(await x.store.getJob(a.job.id)).toBeNull();
      expect((await x.store.getJob(fresh.id))?.idempotencyKey).toBe('nightly');
    });

    it('takes a queue out of queueStats once all its jobs are deleted', async () => {
      const x = f();
      const queue = x.otherQueue('gone');
      const [a, b] = await x.enqueue(2, { queue });
      await x.store.cancel(a!);
      await x.store.cancel(b!);
      expect((await x.store.queueStats()).find((s) => s.queue === queue)?.counts.cancelled).toBe(2);
      x.advance(1);
      expect(await x.store.deleteFinished(x.now, 1)).toEqual({ deleted: 1 });
      expect((await x.store.queueStats()).find((s) => s.queue === queue)?.counts).toMatchObject({
        cancelled: 1,
        queued: 0,
      });
      expect(await x.store.deleteFinished(x.now, 1)).toEqual({ deleted: 1 });
      expect((await x.store.queueStats()).find((s) => s.queue === queue)).toBeUndefined();
      expect(await x.store.listJobs({ queue, limit: 10 })).toEqual({ jobs: [], nextCursor: null });
    });

    it('deletes only the given final state, each with its own cut-off, past older jobs of other states', async () => {
      const x = f();
      const t = x.now;
      // Finished in turn: failed (t+10, t+20) before succeeded (t+30, t+40), then cancelled
      // (t+50), so the succeeded jobs lie behind failed ones in a by-finish-time index.
      const ended: Record<'succeeded' | 'failed' | 'cancelled', string[]> = {
        succeeded: [],
        failed: [],
        cancelled: [],
      };
      for (const outcome of ['failed', 'failed', 'succeeded', 'succeeded'] as const) {
        const a = await x.leased();
        x.advance(10);
        await x.store.complete([outcome === 'failed' ? x.fail(a, false) : x.succeed(a)]);
        ended[outcome].push(a.job.id);
      }
      const [cancelled] = await x.enqueue();
      x.advance(10);
      await x.store.cancel(cancelled!);
      ended.cancelled.push(cancelled!);
      const [queued] = await x.enqueue();
      x.advance(100);
      const left = async () => {
        const jobs = await Promise.all(
          Object.values(ended)
            .flat()
            .map((id) => x.store.getJob(id)),
        );
        return jobs.filter((j) => j !== null).map((j) => j.state);
      };

      // One at a time: the second call must reach the succeeded job behind both failed ones.
      expect(await x.store.deleteFinished(t + 100, 1, 'succeeded')).toEqual({ deleted: 1 });
      expect(await x.store.deleteFinished(t + 100, 1, 'succeeded')).toEqual({ deleted: 1 });
      expect(await x.store.deleteFinished(t + 100, 1, 'succeeded')).toEqual({ deleted: 0 });
      expect(await left()).toEqual(['failed', 'failed', 'cancelled']);
      // A state's own cut-off: only the failed job finished before t+20 goes.
      expect(await x.store.deleteFinished(t + 20, 10, 'failed')).toEqual({ deleted: 1 });
      expect(await x.store.getJob(ended.failed[0]!)).toBeNull();
      expect(await x.state(ended.failed[1]!)).toBe('failed');
      expect(await x.store.deleteFinished(t + 50, 10, 'cancelled')).toEqual({ deleted: 0 });
      expect(await x.store.deleteFinished(t + 51, 10, 'cancelled')).toEqual({ deleted: 1 });
      expect(await left()).toEqual(['failed']);
      expect(await x.state(queued!)).toBe('queued');
      for (const state of ['queued', 'running', 'finished']) {
        const call = x.store.deleteFinished(t + 100, 10, state as 'failed');
        expect(await rejection(call)).toBeInstanceOf(ValidationError);
      }
      expect(await x.state(ended.failed[1]!)).toBe('failed');
    });

    it('refuses a cut-off that is not a finite number and a limit that is not an integer', async () => {
      const x = f();
      for (const [before, limit] of [
        [Number.NaN, 10],
        [Number.POSITIVE_INFINITY, 10],
        [x.now, 1.5],
        [x.now, Number.NaN],
      ] as const) {
        expect(await rejection(x.store.deleteFinished(before, limit))).toBeInstanceOf(ValidationError);
      }
    });
  });
}
