import { describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import type { Fixture } from './fixture.js';

export function enqueueTests(f: () => Fixture): void {
  describe('enqueue and read', () => {
    it('keeps input order, queues due jobs, delays future ones, and round-trips every field', async () => {
      const x = f();
      const due = x.job({
        payload: { a: [1, 2, { b: 'c' }] },
        priority: 'high',
        priorityLevel: 7,
        resources: { slots: 3 },
        maxAttempts: 5,
        backoffMs: 250,
        timeoutMs: 9000,
        owner: 'bob',
      });
      const later = x.job({ runAt: x.now + 60_000 });
      const results = await x.store.enqueue([due, later]);
      expect(results.map((r) => r.job.id)).toEqual([due.id, later.id]);
      expect(results.map((r) => r.created)).toEqual([true, true]);
      expect(results.map((r) => r.job.state)).toEqual(['queued', 'delayed']);
      const job = await x.store.getJob(due.id);
      expect(job).toMatchObject({
        id: due.id,
        queue: x.queue,
        task: 'test.task',
        owner: 'bob',
        payload: { a: [1, 2, { b: 'c' }] },
        priority: 'high',
        priorityLevel: 7,
        resources: { slots: 3 },
        maxAttempts: 5,
        backoffMs: 250,
        timeoutMs: 9000,
        idempotencyKey: null,
        state: 'queued',
        attempts: 0,
        progress: null,
        result: null,
        error: null,
        agentId: null,
        createdAt: x.now,
        runAt: x.now,
        startedAt: null,
        finishedAt: null,
      });
      expect(await x.store.getJob('01ARZ3NDEKTSV4RRFFQ69G5FAV')).toBeNull();
    });

    it('returns the existing job for a repeated (owner, idempotency key), also within one batch', async () => {
      const x = f();
      const key = `key-${x.queue}`;
      const [first] = await x.store.enqueue([x.job({ idempotencyKey: key })]);
      const batch = await x.store.enqueue([
        x.job({ idempotencyKey: key, payload: { other: true } }),
        x.job({ idempotencyKey: `${key}-b` }),
        x.job({ idempotencyKey: `${key}-b` }),
      ]);
      expect(batch[0]).toMatchObject({ created: false, job: { id: first!.job.id, payload: { n: 1 } } });
      expect(batch[1]!.created).toBe(true);
      expect(batch[2]).toMatchObject({ created: false, job: { id: batch[1]!.job.id } });
      const [otherOwner] = await x.store.enqueue([x.job({ idempotencyKey: key, owner: 'carol' })]);
      expect(otherOwner!.created).toBe(true);
      expect(otherOwner!.job.id).not.toBe(first!.job.id);
    });

    it('lists newest first, filters, and pages with a cursor that visits each job once', async () => {
      const x = f();
      const ids = await x.enqueue(7);
      const [done] = await x.store.assign([{ jobId: ids[0]!, agentId: 'a' }], 1000);
      await x.store.complete([x.succeed(done!)]);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await x.store.listJobs({ queue: x.queue, limit: 3, ...(cursor && { cursor }) });
        seen.push(...page.jobs.map((j) => j.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
      expect(pages).toBe(3);
      const succeeded = await x.store.listJobs({ queue: x.queue, state: 'succeeded', limit: 10 });
      expect(succeeded).toEqual({ jobs: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
      const other = await x.store.listJobs({ queue: `${x.queue}-none`, limit: 10 });
      expect(other.jobs).toEqual([]);
      const err = await x.store.listJobs({ limit: 5, cursor: 'garbage!' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BatonError);
      expect((err as BatonError).code).toBe('INVALID_CURSOR');
    });

    it('gives pending jobs in priority class, level, then FIFO order, per queue and limit', async () => {
      const x = f();
      const low = x.job({ priority: 'low' });
      const n1 = x.job();
      const high = x.job({ priority: 'high' });
      const n2 = x.job();
      const urgent = x.job({ priorityLevel: 10 });
      const delayed = x.job({ runAt: x.now + 1000, priority: 'high' });
      const elsewhere = x.job({ queue: `${x.queue}-b` });
      await x.store.enqueue([low, n1, high, n2, urgent, delayed, elsewhere]);
      const pending = await x.store.pending([{ queue: x.queue, limit: 10 }]);
      expect(pending.map((p) => p.id)).toEqual([high.id, urgent.id, n1.id, n2.id, low.id]);
      expect(pending[0]).toEqual({
        id: high.id,
        queue: x.queue,
        priority: 'high',
        priorityLevel: 0,
        resources: { slots: 1 },
      });
      const limited = await x.store.pending([
        { queue: x.queue, limit: 2 },
        { queue: `${x.queue}-b`, limit: 5 },
      ]);
      expect(limited.map((p) => p.id)).toEqual([high.id, urgent.id, elsewhere.id]);
    });

    it('records task routes idempotently and reports their queues with zero counts', async () => {
      const x = f();
      await x.store.registerTasks([{ task: `t-${x.queue}`, queue: x.queue }]);
      await x.store.registerTasks([
        { task: `t-${x.queue}`, queue: x.queue },
        { task: `t-${x.queue}`, queue: `${x.queue}-gpu` },
      ]);
      const routes = (await x.store.taskRoutes()).filter((r) => r.task === `t-${x.queue}`);
      expect(routes).toEqual([
        { task: `t-${x.queue}`, queue: x.queue },
        { task: `t-${x.queue}`, queue: `${x.queue}-gpu` },
      ]);
      const stats = await x.store.queueStats();
      const gpu = stats.find((s) => s.queue === `${x.queue}-gpu`);
      expect(gpu).toEqual({
        queue: `${x.queue}-gpu`,
        counts: expect.objectContaining({ queued: 0, running: 0 }),
        oldestQueuedAgeMs: null,
      });
    });
  });
}
