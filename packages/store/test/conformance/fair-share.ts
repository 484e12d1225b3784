import { describe, expect, it } from 'vitest';
import type { PendingJob } from '@baton/core';
import type { OwnerLoad, Store } from '@baton/store';
import type { Fixture } from './fixture.js';
import { LEASE_MS, ref, rejection } from './fixture.js';

const HALF_LIFE = 60_000;

const resources = (slots: number, gpus = 0) => ({ resources: { slots, cpu: 0, memoryMb: 0, gpus } });

/** Ids of one owner's jobs in the order `pending` gave them. */
const idsOf = (jobs: PendingJob[], owner: string) => jobs.filter((j) => j.owner === owner).map((j) => j.id);

const byOwner = (loads: OwnerLoad[]) => [...loads].sort((a, b) => a.owner.localeCompare(b.owner));

/** Issue 10: what fair share reads and keeps in the store. */
export function fairShareTests(f: () => Fixture): void {
  describe('fair share: pending by owner', () => {
    it('names the owner of every pending job, on every page', async () => {
      const x = f();
      const other = `${x.owner}-b`;
      const mine = await x.enqueue(2);
      const theirs = await x.enqueue(2, { owner: other });
      const first = await x.store.pending([{ queue: x.queue, limit: 3 }]);
      expect(first.map((j) => [j.id, j.owner])).toEqual([
        [mine[0], x.owner],
        [mine[1], x.owner],
        [theirs[0], other],
      ]);
      const last = first[2]!;
      const after = { priority: last.priority, priorityLevel: last.priorityLevel, id: last.id };
      const next = await x.store.pending([{ queue: x.queue, limit: 3, after }]);
      expect(next.map((j) => [j.id, j.owner])).toEqual([[theirs[1], other]]);
    });

    it("gives each owner's head however long another owner's backlog is", async () => {
      const x = f();
      const late = `${x.owner}-late`;
      const backlog = await x.enqueue(50);
      const few = await x.enqueue(3, { owner: late });
      const plain = await x.store.pending([{ queue: x.queue, limit: 5 }]);
      expect(plain.map((j) => j.id)).toEqual(backlog.slice(0, 5));

      const heads = await x.store.pending([{ queue: x.queue, limit: 5, perOwner: true }]);
      expect(heads).toHaveLength(8);
      expect(idsOf(heads, x.owner)).toEqual(backlog.slice(0, 5));
      expect(idsOf(heads, late)).toEqual(few);
      expect(heads.every((j) => j.queue === x.queue)).toBe(true);
    });

    it("keeps each owner's scheduling order (class, level highest first, id) and only the queue asked", async () => {
      const x = f();
      const other = `${x.owner}-b`;
      const elsewhere = `${x.owner}-elsewhere`;
      const [low] = await x.enqueue(1, { priority: 'low' });
      const [normal0] = await x.enqueue(1);
      const [normal5] = await x.enqueue(1, { priorityLevel: 5 });
      const [high] = await x.enqueue(1, { priority: 'high' });
      const [theirLow] = await x.enqueue(1, { owner: other, priority: 'low' });
      const [theirHigh] = await x.enqueue(1, { owner: other, priority: 'high', priorityLevel: -3 });
      await x.enqueue(2, { owner: elsewhere, queue: x.otherQueue('else') });
      const leased = await x.enqueue(1, { owner: elsewhere });
      await x.assign(leased[0]!);

      const heads = await x.store.pending([{ queue: x.queue, limit: 3, perOwner: true }]);
      expect(idsOf(heads, x.owner)).toEqual([high, normal5, normal0]);
      expect(idsOf(heads, other)).toEqual([theirHigh, theirLow]);
      expect(idsOf(heads, elsewhere)).toEqual([]);
      expect(heads).toHaveLength(5);
      expect(idsOf(await x.store.pending([{ queue: x.queue, limit: 10, perOwner: true }]), x.owner)).toEqual([
        high,
        normal5,
        normal0,
        low,
      ]);
      // A queue with nothing queued, and a limit that asks for nothing.
      expect(await x.store.pending([{ queue: x.otherQueue('none'), limit: 5, perOwner: true }])).toEqual([]);
      expect(await x.store.pending([{ queue: x.queue, limit: 0, perOwner: true }])).toEqual([]);
    });

    it('refuses perOwner with after', async () => {
      const x = f();
      const [id] = await x.enqueue(1);
      const after = { priority: 'normal' as const, priorityLevel: 0, id: id! };
      const err = await rejection(x.store.pending([{ queue: x.queue, limit: 5, perOwner: true, after }]));
      expect(err.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('fair share: owner loads', () => {
    it('counts the jobs, GPUs and units (GPUs, else slots) of leased jobs per owner', async () => {
      const x = f();
      const other = `${x.owner}-b`;
      const idle = `${x.owner}-idle`;
      expect(await x.store.ownerLoads()).toEqual([]);
      const slotJobs = await x.enqueue(2, resources(2));
      const [gpuJob] = await x.enqueue(1, resources(1, 3));
      const [theirs] = await x.enqueue(1, { owner: other });
      await x.enqueue(2, { owner: idle, ...resources(4, 2) });
      const [s1, s2] = [await x.assign(slotJobs[0]!), await x.assign(slotJobs[1]!)];
      await x.assign(gpuJob!, 'agent-gpu', [0, 1, 2]);
      const b = await x.assign(theirs!);
      await x.store.start([ref(s1), ref(b)], LEASE_MS);

      expect(byOwner(await x.store.ownerLoads())).toEqual(
        byOwner([
          { owner: x.owner, leasedJobs: 3, leasedGpus: 3, leasedUnits: 7 },
          { owner: other, leasedJobs: 1, leasedGpus: 0, leasedUnits: 1 },
        ]),
      );

      await x.store.complete([x.succeed(s2), x.succeed(b)]);
      expect(await x.store.ownerLoads()).toEqual([{ owner: x.owner, leasedJobs: 2, leasedGpus: 3, leasedUnits: 5 }]);
      await x.store.cancel(gpuJob!);
      expect(await x.store.ownerLoads()).toEqual([{ owner: x.owner, leasedJobs: 1, leasedGpus: 0, leasedUnits: 2 }]);
    });
  });

  describe('fair share: decayed usage', () => {
    const usageOf = async (store: Store, owner: string, halfLife = HALF_LIFE) =>
      (await store.usage(halfLife)).find((u) => u.owner === owner)?.units ?? 0;

    it('halves usage every half-life, and adds to the decayed value', async () => {
      const x = f();
      const other = `${x.owner}-b`;
      expect(await x.store.usage(HALF_LIFE)).toEqual([]);
      await x.store.addUsage(
        [
          { owner: x.owner, units: 100 },
          { owner: other, units: 0 },
        ],
        HALF_LIFE,
      );
      expect(await x.store.usage(HALF_LIFE)).toEqual([{ owner: x.owner, units: 100 }]);
      x.advance(HALF_LIFE);
      expect(await usageOf(x.store, x.owner)).toBeCloseTo(50, 9);
      await x.store.addUsage([{ owner: x.owner, units: 10 }], HALF_LIFE);
      expect(await usageOf(x.store, x.owner)).toBeCloseTo(60, 9);
      x.advance(2 * HALF_LIFE);
      expect(await usageOf(x.store, x.owner)).toBeCloseTo(15, 9);
      // The same stored usage read with a half-life twice as long has lost half as much.
      expect(await usageOf(x.store, x.owner, 2 * HALF_LIFE)).toBeCloseTo(30, 9);

      await x.store.addUsage(
        [
          { owner: other, units: 4 },
          { owner: other, units: 4 },
        ],
        HALF_LIFE,
      );
      expect(await usageOf(x.store, other)).toBeCloseTo(8, 9);
    });

    it('loses no usage to concurrent adds, from one store or two', async () => {
      const x = f();
      await x.store.addUsage([{ owner: 'probe', units: 1 }], HALF_LIFE);
      const second = await x.openWith({});
      // Each in-memory SQLite store has a database of its own: race the first store with itself.
      const other = (await usageOf(second, 'probe')) > 0 ? second : x.store;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? other : x.store).addUsage(
            [
              { owner: x.owner, units: 1 },
              { owner: `${x.owner}-b`, units: 2 },
            ],
            HALF_LIFE,
          ),
        ),
      );
      expect(await usageOf(x.store, x.owner)).toBeCloseTo(20, 9);
      expect(await usageOf(x.store, `${x.owner}-b`)).toBeCloseTo(40, 9);
    });

    it('refuses a bad half-life or bad units, adding nothing', async () => {
      const x = f();
      for (const halfLife of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const err = await rejection(x.store.addUsage([{ owner: x.owner, units: 1 }], halfLife));
        expect(err.code).toBe('VALIDATION_FAILED');
        expect((await rejection(x.store.usage(halfLife))).code).toBe('VALIDATION_FAILED');
      }
      for (const units of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        const entries = [
          { owner: x.owner, units: 5 },
          { owner: `${x.owner}-b`, units },
        ];
        expect((await rejection(x.store.addUsage(entries, HALF_LIFE))).code).toBe('VALIDATION_FAILED');
      }
      expect(await x.store.usage(HALF_LIFE)).toEqual([]);
    });
  });
}
