import { describe, expect, it } from 'vitest';
import { JOB_STATES } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS, ref } from './fixture.js';

/** 10–12: attempt history, queue statistics and task routes. */
export function historyTests(f: () => Fixture): void {
  describe('attempt history', () => {
    it('keeps one row per assignment, timed by the clock, with its outcome and error', async () => {
      const x = f();
      const [id] = await x.enqueue(1, { maxAttempts: 4, backoffMs: 0 });
      const t0 = x.now;
      // 1: started, then fails (retryable).
      const a1 = await x.assign(id!, 'agent-a');
      x.advance(10);
      await x.store.start([ref(a1)], LEASE_MS);
      x.advance(10);
      await x.store.complete([x.fail(a1, true, 'FLAKY')]);
      // 2: assigned, never started, lease runs out.
      x.advance(10);
      await x.assign(id!, 'agent-b');
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [id!], failed: [], nextExpiryAt: null });
      // 3: started, succeeds.
      x.advance(10);
      const a3 = await x.assign(id!, 'agent-c');
      x.advance(10);
      await x.store.start([ref(a3)], LEASE_MS);
      // While running, the open attempt shows its start and no outcome.
      expect((await x.store.getAttempts(id!))[2]).toEqual({
        attempt: 3,
        agentId: 'agent-c',
        assignedAt: x.now - 10,
        startedAt: x.now,
        finishedAt: null,
        outcome: null,
        error: null,
      });
      x.advance(10);
      await x.store.complete([x.succeed(a3)]);

      const t2 = t0 + 30;
      const t3 = t2 + LEASE_MS + 10;
      expect(await x.store.getAttempts(id!)).toEqual([
        {
          attempt: 1,
          agentId: 'agent-a',
          assignedAt: t0,
          startedAt: t0 + 10,
          finishedAt: t0 + 20,
          outcome: 'failed',
          error: { code: 'FLAKY', message: 'boom FLAKY', retryable: true },
        },
        {
          attempt: 2,
          agentId: 'agent-b',
          assignedAt: t2,
          startedAt: null,
          finishedAt: t2 + LEASE_MS,
          outcome: 'lease_expired',
          error: expect.objectContaining({ code: 'LEASE_EXPIRED' }),
        },
        {
          attempt: 3,
          agentId: 'agent-c',
          assignedAt: t3,
          startedAt: t3 + 10,
          finishedAt: t3 + 20,
          outcome: 'succeeded',
          error: null,
        },
      ]);
      expect(await x.store.getJob(id!)).toMatchObject({ state: 'succeeded', attempts: 3, startedAt: t3 + 10 });
    });

    it('never records two succeeded attempts for one job', async () => {
      const x = f();
      const a = await x.running('agent-slow');
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [a.job.id], failed: [], nextExpiryAt: null });
      const b = await x.assign(a.job.id, 'agent-fast');
      await x.store.start([ref(b)], LEASE_MS);
      const results = await x.store.complete([x.succeed(b, 'fast'), x.succeed(a, 'slow'), x.succeed(b, 'twice')]);
      expect(results.map((r) => r.ok)).toEqual([true, false, false]);
      const attempts = await x.store.getAttempts(a.job.id);
      expect(attempts.filter((t) => t.outcome === 'succeeded')).toEqual([
        expect.objectContaining({ attempt: 2, agentId: 'agent-fast' }),
      ]);
      expect(attempts[0]).toMatchObject({ attempt: 1, outcome: 'lease_expired' });
      expect((await x.store.getJob(a.job.id))!.result).toBe('fast');
    });

    it('has no history for a job never assigned', async () => {
      const x = f();
      const [id] = await x.enqueue();
      expect(await x.store.getAttempts(id!)).toEqual([]);
    });
  });

  describe('queueStats', () => {
    it('counts jobs per queue and state, with the age of the oldest queued job', async () => {
      const x = f();
      await x.enqueue(2);
      x.advance(500);
      await x.enqueue(1); // younger: the age is the oldest one's
      await x.enqueue(1, { runAt: x.now + 1000 });
      await x.running();
      await x.leased();
      const failed = await x.running();
      await x.store.complete([x.fail(failed, false)]);
      const ok = await x.leased();
      await x.store.complete([x.succeed(ok)]);
      const [cancelled] = await x.enqueue();
      await x.store.cancel(cancelled!);
      await x.enqueue(2, { queue: x.otherQueue('b') });
      x.advance(250);
      const stats = await x.store.queueStats();
      expect(stats.find((s) => s.queue === x.queue)).toEqual({
        queue: x.queue,
        counts: {
          blocked: 0,
          delayed: 1,
          queued: 3,
          assigned: 1,
          running: 1,
          succeeded: 1,
          failed: 1,
          cancelled: 1,
          skipped: 0,
        },
        oldestQueuedAgeMs: 750,
      });
      expect(stats.find((s) => s.queue === x.otherQueue('b'))).toEqual({
        queue: x.otherQueue('b'),
        counts: {
          blocked: 0,
          delayed: 0,
          queued: 2,
          assigned: 0,
          running: 0,
          succeeded: 0,
          failed: 0,
          cancelled: 0,
          skipped: 0,
        },
        oldestQueuedAgeMs: 250,
      });
      expect(stats.map((s) => s.queue).sort()).toEqual([x.queue, x.otherQueue('b')].sort());
    });

    it('ages a job from its creation when its runAt lies in the past', async () => {
      const x = f();
      await x.enqueue(1, { runAt: x.now - 60_000 });
      x.advance(40);
      const stats = (await x.store.queueStats()).find((s) => s.queue === x.queue);
      expect(stats?.oldestQueuedAgeMs).toBe(40);
    });

    it('reports no age when nothing waits', async () => {
      const x = f();
      await x.running();
      await x.enqueue(1, { runAt: x.now + 1000 });
      const stats = (await x.store.queueStats()).find((s) => s.queue === x.queue);
      expect(stats).toMatchObject({ counts: { running: 1, delayed: 1, queued: 0 }, oldestQueuedAgeMs: null });
    });

    it('lists queues known from registered tasks, with zero counts', async () => {
      const x = f();
      const gpu = x.otherQueue('gpu');
      await x.store.registerTasks([{ task: `t-${x.queue}`, queue: gpu }]);
      const stats = (await x.store.queueStats()).find((s) => s.queue === gpu);
      expect(stats).toEqual({
        queue: gpu,
        counts: Object.fromEntries(JOB_STATES.map((s) => [s, 0])),
        oldestQueuedAgeMs: null,
      });
    });
  });

  describe('task routes', () => {
    it('upserts routes idempotently and lists them', async () => {
      const x = f();
      const task = `t-${x.queue}`;
      await x.store.registerTasks([{ task, queue: x.queue }]);
      x.advance(1000);
      await x.store.registerTasks([
        { task, queue: x.queue },
        { task, queue: x.otherQueue('gpu') },
        { task: `${task}-other`, queue: x.queue },
      ]);
      await x.store.registerTasks([{ task, queue: x.queue }]);
      await x.store.registerTasks([]);
      const mine = (await x.store.taskRoutes()).filter((r) => r.task.startsWith(task));
      const key = (r: { task: string; queue: string }) => `${r.task} ${r.queue}`;
      expect(mine.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))).toEqual([
        { task, queue: x.queue, expiresAt: null },
        { task, queue: x.otherQueue('gpu'), expiresAt: null },
        { task: `${task}-other`, queue: x.queue, expiresAt: null },
      ]);
    });
  });
}
