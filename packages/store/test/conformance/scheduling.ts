import { describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCES } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS, UNKNOWN_ID } from './fixture.js';

/** 4–5: pending order and assignment. */
export function schedulingTests(f: () => Fixture): void {
  describe('pending', () => {
    it('orders by priority class, then level (higher first), then FIFO', async () => {
      const x = f();
      const low = x.job({ priority: 'low', priorityLevel: 100 });
      const n1 = x.job();
      const high = x.job({ priority: 'high', priorityLevel: -5 });
      const n2 = x.job();
      const urgent = x.job({ priorityLevel: 10 });
      const negative = x.job({ priorityLevel: -1 });
      const high2 = x.job({ priority: 'high', priorityLevel: -5 });
      // Enqueued out of id order: FIFO is by id (creation time), not insertion order.
      await x.store.enqueue([n2, low, high2, negative, urgent, high, n1]);
      const pending = await x.store.pending([{ queue: x.queue, limit: 10 }]);
      expect(pending.map((p) => p.id)).toEqual([high.id, high2.id, urgent.id, n1.id, n2.id, negative.id, low.id]);
      expect(pending[0]).toEqual({
        id: high.id,
        queue: x.queue,
        task: 'test.task',
        priority: 'high',
        priorityLevel: -5,
        resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 },
        constraints: { tags: [] },
        avoidAgentId: null,
        owner: x.owner,
        timeLimitMs: null,
      });
    });

    it('pages after a cursor in scheduling order, across levels and classes, wherever the cursor job is', async () => {
      const x = f();
      const low = x.job({ priority: 'low', priorityLevel: 100 });
      const n1 = x.job();
      const high = x.job({ priority: 'high', priorityLevel: -5 });
      const n2 = x.job();
      const urgent = x.job({ priorityLevel: 10 });
      const negative = x.job({ priorityLevel: -1 });
      const high2 = x.job({ priority: 'high', priorityLevel: -5 });
      const n3 = x.job();
      await x.store.enqueue([n2, low, high2, negative, urgent, high, n1, n3]);
      const order = [high, high2, urgent, n1, n2, n3, negative, low];
      const cursor = (j: (typeof order)[number]) => ({
        priority: j.priority,
        priorityLevel: j.priorityLevel,
        id: j.id,
      });
      for (let i = 0; i < order.length; i++) {
        const page = await x.store.pending([{ queue: x.queue, limit: 3, after: cursor(order[i]!) }]);
        expect(page.map((p) => p.id)).toEqual(order.slice(i + 1, i + 4).map((j) => j.id));
      }
      // The cursor job need not be queued any more: the page starts after its position.
      await x.store.cancel(n1.id);
      const page = await x.store.pending([
        { queue: x.queue, limit: 2, after: cursor(n1) },
        { queue: x.queue, limit: 1 },
      ]);
      expect(page.map((p) => p.id).sort()).toEqual([n2.id, n3.id, high.id].sort());
    });

    it('respects per-queue limits and returns only queued jobs', async () => {
      const x = f();
      const [a, b, c] = await x.enqueue(3);
      await x.enqueue(1, { runAt: x.now + 1000, priority: 'high' });
      const cancelled = await x.enqueue(1, { priority: 'high' });
      await x.store.cancel(cancelled[0]!);
      const leased = await x.leased('agent-1', { priority: 'high' });
      const q2 = x.otherQueue('b');
      const [d, e] = await x.enqueue(2, { queue: q2, resources: { ...DEFAULT_RESOURCES, slots: 4 } });
      const limited = await x.store.pending([
        { queue: x.queue, limit: 2 },
        { queue: q2, limit: 5 },
        { queue: x.otherQueue('empty'), limit: 5 },
      ]);
      expect(limited.map((p) => p.id)).toEqual([a, b, d, e]);
      expect(limited[2]).toMatchObject({ queue: q2, resources: { slots: 4, cpu: 0, memoryMb: 0, gpus: 0 } });
      const all = await x.store.pending([{ queue: x.queue, limit: 100 }]);
      expect(all.map((p) => p.id)).toEqual([a, b, c]);
      expect(all.map((p) => p.id)).not.toContain(leased.job.id);
      expect(await x.store.pending([{ queue: x.queue, limit: 0 }])).toEqual([]);
    });
  });

  describe('assign', () => {
    it('hands a queued job to one agent under a lease, counting the attempt', async () => {
      const x = f();
      const [id] = await x.enqueue(1, { payload: { img: 'a.png' }, timeoutMs: 5000 });
      const [a, ...rest] = await x.store.assign([{ jobId: id!, agentId: 'agent-1', gpus: [] }], LEASE_MS);
      expect(rest).toEqual([]);
      expect(a!.leaseToken).toEqual(expect.any(String));
      expect(a!.leaseToken.length).toBeGreaterThan(0);
      expect(a!.job).toMatchObject({
        id,
        queue: x.queue,
        task: 'test.task',
        owner: x.owner,
        payload: { img: 'a.png' },
        attempts: 1,
        maxAttempts: 3,
        timeoutMs: 5000,
        agentId: 'agent-1',
        resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 },
        gpus: [],
      });
      expect(await x.store.getJob(id!)).toMatchObject({
        state: 'assigned',
        gpus: [],
        attempts: 1,
        agentId: 'agent-1',
        leaseExpiresAt: x.now + LEASE_MS,
        startedAt: null,
      });
    });

    it('never assigns a job twice, and skips jobs that are not queued or do not exist', async () => {
      const x = f();
      const [id, other] = await x.enqueue(2);
      const [delayed] = await x.enqueue(1, { runAt: x.now + 1000 });
      const first = await x.store.assign(
        [
          { jobId: id!, agentId: 'agent-1', gpus: [] },
          { jobId: id!, agentId: 'agent-2', gpus: [] }, // same job twice in one batch
          { jobId: UNKNOWN_ID, agentId: 'agent-2', gpus: [] },
          { jobId: delayed!, agentId: 'agent-2', gpus: [] },
          { jobId: other!, agentId: 'agent-3', gpus: [] },
        ],
        LEASE_MS,
      );
      expect(first.map((a) => [a.job.id, a.job.agentId])).toEqual([
        [id, 'agent-1'],
        [other, 'agent-3'],
      ]);
      expect(await x.store.assign([{ jobId: id!, agentId: 'agent-2', gpus: [] }], LEASE_MS)).toEqual([]);
      expect(await x.store.getJob(id!)).toMatchObject({ state: 'assigned', agentId: 'agent-1', attempts: 1 });
      expect(await x.store.getJob(delayed!)).toMatchObject({ state: 'delayed', attempts: 0, agentId: null });
      expect(await x.store.getAttempts(id!)).toHaveLength(1);
    });

    it('assigns a thousand jobs in one call', async () => {
      const x = f();
      const ids = (await x.store.enqueue(Array.from({ length: 1000 }, () => x.job()))).map((r) => r.job.id);
      expect(new Set(ids).size).toBe(1000);
      const assigned = await x.store.assign(
        ids.map((jobId, i) => ({ jobId, agentId: `agent-${i % 7}`, gpus: [] })),
        LEASE_MS,
      );
      expect(assigned).toHaveLength(1000);
      expect(assigned.map((a) => a.job.id)).toEqual(ids);
      expect(assigned.every((a, i) => a.job.agentId === `agent-${i % 7}` && a.job.attempts === 1)).toBe(true);
      expect(new Set(assigned.map((a) => a.leaseToken)).size).toBe(1000);
      expect(await x.store.pending([{ queue: x.queue, limit: 10 }])).toEqual([]);
      const stats = (await x.store.queueStats()).find((s) => s.queue === x.queue);
      expect(stats?.counts).toMatchObject({ queued: 0, assigned: 1000 });
    });
  });
}
