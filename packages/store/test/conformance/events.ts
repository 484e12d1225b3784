import { describe, expect, it, vi } from 'vitest';
import type { StoreEvent } from '@baton/store';
import type { Fixture } from './fixture.js';

/** Networked backends deliver events asynchronously; wait for them rather than sleep a fixed time. */
const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5000, interval: 5 });

const mentions = (queue: string) => (e: StoreEvent) => e.type === 'enqueued' && e.queues.includes(queue);

/** 13: events. */
export function eventTests(f: () => Fixture): void {
  describe('subscribe', () => {
    it('announces an enqueue, naming the queue', async () => {
      const x = f();
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        await x.enqueue(2);
        await waitFor(() => expect(events.filter(mentions(x.queue))).not.toEqual([]));
        expect(events.find(mentions(x.queue))).toMatchObject({ type: 'enqueued', queues: [x.queue] });
      } finally {
        unsubscribe();
      }
    });

    it('announces a cancellation with the job and the agent holding it', async () => {
      const x = f();
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        const a = await x.leased('agent-9');
        const [queued] = await x.enqueue();
        await x.store.cancel(a.job.id);
        await x.store.cancel(queued!);
        await waitFor(() => {
          expect(events).toContainEqual({ type: 'cancelled', jobId: a.job.id, agentId: 'agent-9' });
          expect(events).toContainEqual({ type: 'cancelled', jobId: queued, agentId: null });
        });
      } finally {
        unsubscribe();
      }
    });

    it('announces registered task routes, so servers caching them read them again', async () => {
      const x = f();
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        await x.store.registerTasks([]);
        expect(events.filter((e) => e.type === 'routes')).toEqual([]);
        await x.store.registerTasks([{ task: `t-${x.queue}`, queue: x.queue }]);
        // The store's own listeners hear of it before the call returns.
        expect(events).toContainEqual({ type: 'routes' });
      } finally {
        unsubscribe();
      }
    });

    it('announces a change when delayed jobs are promoted, so other schedulers wake', async () => {
      const x = f();
      await x.enqueue(1, { runAt: x.now + 100 });
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        x.advance(100);
        expect(await x.store.promoteDue()).toEqual({ promoted: 1, nextRunAt: null });
        await waitFor(() => expect(events.some((e) => e.type === 'changed')).toBe(true));
      } finally {
        unsubscribe();
      }
    });

    it('gives dueAt exactly when a change delays jobs: the earliest run time it delayed', async () => {
      const x = f();
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        const due = x.otherQueue('due');
        await x.store.enqueue([
          x.job({ queue: due, runAt: x.now + 5000 }),
          x.job({ queue: due }),
          x.job({ queue: due, runAt: x.now + 2000 }),
        ]);
        await waitFor(() => expect(events.filter(mentions(due))).toHaveLength(1));
        expect(events.find(mentions(due))).toEqual({ type: 'enqueued', queues: [due], dueAt: x.now + 2000 });

        const now = x.otherQueue('now');
        await x.enqueue(1, { queue: now });
        await waitFor(() => expect(events.filter(mentions(now))).toHaveLength(1));
        expect(events.find(mentions(now))).toEqual({ type: 'enqueued', queues: [now] });

        const a = await x.leased('agent-1', { backoffMs: 1000 });
        events.length = 0;
        await x.store.complete([x.fail(a)]);
        const runAt = (await x.store.getJob(a.job.id))!.runAt;
        expect(runAt).toBeGreaterThan(x.now);
        await waitFor(() => expect(events.some((e) => e.type === 'changed')).toBe(true));
        expect(events.filter((e) => e.type === 'changed')).toEqual([{ type: 'changed', dueAt: runAt }]);

        // A change that delays nothing (a success) gives no dueAt.
        const b = await x.leased();
        events.length = 0;
        await x.store.complete([x.succeed(b)]);
        await waitFor(() => expect(events.some((e) => e.type === 'changed')).toBe(true));
        expect(events.filter((e) => e.type === 'changed')).toEqual([{ type: 'changed' }]);
      } finally {
        unsubscribe();
      }
    });

    it('stops delivering after unsubscribe, and only to that listener', async () => {
      const x = f();
      const gone: StoreEvent[] = [];
      const kept: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => gone.push(e));
      const unsubscribeKept = x.store.subscribe((e) => kept.push(e));
      try {
        await x.enqueue();
        await waitFor(() => {
          expect(gone.filter(mentions(x.queue))).toHaveLength(1);
          expect(kept.filter(mentions(x.queue))).toHaveLength(1);
        });
        unsubscribe();
        unsubscribe(); // idempotent
        await x.enqueue(1, { queue: x.otherQueue('after') });
        await waitFor(() => expect(kept.filter(mentions(x.otherQueue('after')))).toHaveLength(1));
        expect(gone.filter(mentions(x.otherQueue('after')))).toEqual([]);
      } finally {
        unsubscribeKept();
      }
    });
  });
}
