import { describe, expect, it } from 'vitest';
import { ValidationError } from '@baton/core';
import type { StoreEvent, StoredTaskRoute } from '@baton/store';
import type { Fixture } from './fixture.js';
import { rejection } from './fixture.js';

/** Long enough for an event from another process (NOTIFY, pub/sub) to have arrived. */
const SETTLE_MS = 150;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/** 16b: task routes that expire (registerTasks with a ttl), on the store's clock. */
export function routeExpiryTests(f: () => Fixture): void {
  describe('task route expiry', () => {
    const mine = async (x: Fixture): Promise<StoredTaskRoute[]> =>
      (await x.store.taskRoutes()).filter((r) => r.queue.startsWith(x.queue));

    it('keeps a route live until the store clock reaches its expiry, then lists it no more', async () => {
      const x = f();
      const gpu = x.otherQueue('gpu');
      await x.store.registerTasks([{ task: 'train', queue: gpu }], 1000);
      expect(await mine(x)).toEqual([{ task: 'train', queue: gpu, expiresAt: x.now + 1000 }]);
      expect((await x.store.queueStats()).map((s) => s.queue)).toContain(gpu);
      x.advance(999);
      expect(await mine(x)).toEqual([{ task: 'train', queue: gpu, expiresAt: x.now + 1 }]);
      x.advance(1);
      expect(await mine(x)).toEqual([]);
      expect((await x.store.queueStats()).map((s) => s.queue)).not.toContain(gpu);
      // Deleting expired routes on the way loses nothing live.
      await x.store.registerTasks([{ task: 'other', queue: x.queue }], 1000);
      expect(await mine(x)).toEqual([{ task: 'other', queue: x.queue, expiresAt: x.now + 1000 }]);
    });

    it('extends a live route registered again, never shortens it; the newest registration decides forever or expiring', async () => {
      const x = f();
      const route = { task: 'train', queue: x.queue };
      const t0 = x.now;
      await x.store.registerTasks([route], 1000);
      x.advance(500);
      await x.store.registerTasks([route], 2000);
      expect(await mine(x)).toEqual([{ ...route, expiresAt: t0 + 2500 }]);
      await x.store.registerTasks([route], 100);
      expect(await mine(x)).toEqual([{ ...route, expiresAt: t0 + 2500 }]);
      await x.store.registerTasks([route]);
      expect(await mine(x)).toEqual([{ ...route, expiresAt: null }]);
      // A forever route registered with a ttl expires (a server renewing a route of an agent
      // from before route expiry), so a departed agent's route does not stay forever.
      await x.store.registerTasks([route], 100);
      expect(await mine(x)).toEqual([{ ...route, expiresAt: x.now + 100 }]);
      x.advance(99);
      expect(await mine(x)).toEqual([{ ...route, expiresAt: x.now + 1 }]);
      x.advance(1);
      expect(await mine(x)).toEqual([]);
      await x.store.registerTasks([route]);
      x.advance(86_400_000);
      expect(await mine(x)).toEqual([{ ...route, expiresAt: null }]);
    });

    it('lists live routes by task then queue, forever and expiring alike', async () => {
      const x = f();
      const [a, b] = [x.otherQueue('a'), x.otherQueue('b')];
      await x.store.registerTasks([{ task: 'z', queue: a }], 5000);
      await x.store.registerTasks([
        { task: 'y', queue: b },
        { task: 'y', queue: a },
        { task: 'y', queue: a },
      ]);
      expect(await mine(x)).toEqual([
        { task: 'y', queue: a, expiresAt: null },
        { task: 'y', queue: b, expiresAt: null },
        { task: 'z', queue: a, expiresAt: x.now + 5000 },
      ]);
    });

    it('announces routes only when a route becomes live: new, or expired and back', async () => {
      const x = f();
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      const announced = async () => {
        await settle();
        return events.filter((e) => e.type === 'routes').length;
      };
      try {
        const route = { task: 'train', queue: x.queue };
        await x.store.registerTasks([route], 1000);
        expect(await announced()).toBeGreaterThanOrEqual(1);
        const afterNew = await announced();
        // A refresh of a live route (a server renewing its agents' routes) announces nothing.
        x.advance(500);
        await x.store.registerTasks([route], 1000);
        await x.store.registerTasks([route]);
        await x.store.registerTasks([route], 1000);
        expect(await announced()).toBe(afterNew);
        // A batch with one new route announces.
        await x.store.registerTasks([route, { task: 'infer', queue: x.queue }], 1000);
        expect(await announced()).toBeGreaterThan(afterNew);
        const afterBatch = await announced();
        // Expired, then registered again: live anew, announced.
        // (train too: its last registration, with a ttl, ended its forever.)
        x.advance(1000);
        expect(await mine(x)).toEqual([]);
        await x.store.registerTasks([{ task: 'infer', queue: x.queue }], 1000);
        expect(await announced()).toBeGreaterThan(afterBatch);
        expect((await mine(x)).map((r) => r.task)).toEqual(['infer']);
      } finally {
        unsubscribe();
      }
    });

    it('refuses a ttl that is not a positive integer, registering nothing', async () => {
      const x = f();
      await x.store.registerTasks([{ task: 'kept', queue: x.queue }], 1000);
      const before = await mine(x);
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        for (const bad of [0, -1000, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
          const err = await rejection(
            x.store.registerTasks(
              [
                { task: 'kept', queue: x.queue },
                { task: 'new', queue: x.queue },
              ],
              bad,
            ),
          );
          expect(err, String(bad)).toBeInstanceOf(ValidationError);
        }
        await settle();
        expect(events.filter((e) => e.type === 'routes')).toEqual([]);
      } finally {
        unsubscribe();
      }
      expect(await mine(x)).toEqual(before);
    });
  });
}
