import { describe, expect, it } from 'vitest';
import type { JobAssignment, Placement } from '@baton/core';
import type { Quota, Store } from '@baton/store';
import type { Fixture } from './fixture.js';
import { LEASE_MS } from './fixture.js';

const quota = (limits: Partial<Quota>): Quota => ({
  maxRunningJobs: null,
  maxGpus: null,
  maxQueuedJobs: null,
  submitRatePerSec: null,
  ...limits,
});

const GPUS = (n: number) => ({ resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: n } });

/** One placement per job, on one agent, each with as many device indices as `gpus`. */
const placements = (ids: string[], gpus = 0): Placement[] =>
  ids.map((jobId) => ({ jobId, agentId: 'agent-1', gpus: Array.from({ length: gpus }, (_, i) => i) }));

const assigned = (out: JobAssignment[]) => out.map((a) => a.job.id);

/** Issue 10: assign skips placements that would take their owner over the quota. */
export function quotaAssignTests(f: () => Fixture): void {
  describe('quota-checked assign', () => {
    it('refuses a placement beyond maxRunningJobs, and allows it once a job completes', async () => {
      const x = f();
      await x.store.setQuota(null, quota({ maxRunningJobs: 2 }));
      const ids = await x.enqueue(3);
      const first = await x.store.assign(placements(ids), LEASE_MS);
      expect(assigned(first)).toEqual(ids.slice(0, 2));
      expect(await x.state(ids[2]!)).toBe('queued');
      // Running counts as much as assigned.
      expect((await x.store.start([{ jobId: ids[0]!, leaseToken: first[0]!.leaseToken }], LEASE_MS))[0]).toMatchObject({
        ok: true,
      });
      expect(await x.store.assign(placements([ids[2]!]), LEASE_MS)).toEqual([]);

      await x.store.complete([x.succeed(first[0]!)]);
      expect(assigned(await x.store.assign(placements([ids[2]!]), LEASE_MS))).toEqual([ids[2]]);
      expect(await x.store.ownerUsage(x.owner)).toMatchObject({ leasedJobs: 2, waitingJobs: 0 });
    });

    it('refuses a placement beyond maxGpus, counting the GPUs of assigned and running jobs', async () => {
      const x = f();
      await x.store.setQuota(null, quota({ maxGpus: 4 }));
      const twoGpus = await x.enqueue(3, GPUS(2));
      const [cpuOnly] = await x.enqueue(1);
      const out = await x.store.assign([...placements(twoGpus, 2), ...placements([cpuOnly!])], LEASE_MS);
      // The third 2-GPU job would make 6; a job with no GPU still fits.
      expect(assigned(out)).toEqual([twoGpus[0], twoGpus[1], cpuOnly]);
      expect(await x.store.ownerUsage(x.owner)).toMatchObject({ leasedJobs: 3, leasedGpus: 4, waitingJobs: 1 });

      await x.store.complete([x.succeed(out[1]!)]);
      expect(assigned(await x.store.assign(placements([twoGpus[2]!], 2), LEASE_MS))).toEqual([twoGpus[2]]);
    });

    it("gives a user's own quota instead of the default, whole", async () => {
      const x = f();
      await x.store.createUser({ name: x.owner, role: 'user', weight: 1 });
      await x.store.setQuota(null, quota({ maxRunningJobs: 1, maxGpus: 100 }));
      // Their own quota leaves maxRunningJobs null: unlimited, not the default's 1.
      await x.store.setQuota(x.owner, quota({ maxGpus: 2 }));
      const ids = await x.enqueue(3);
      const [big] = await x.enqueue(1, GPUS(4));
      const out = await x.store.assign([...placements(ids), ...placements([big!], 4)], LEASE_MS);
      expect(assigned(out)).toEqual(ids);

      // Without their own quota, the default applies again.
      await x.store.setQuota(x.owner, null);
      const [more] = await x.enqueue(1);
      expect(await x.store.assign(placements([more!]), LEASE_MS)).toEqual([]);
    });

    it('gives the default quota to an owner with no account and to a user without a quota', async () => {
      const x = f();
      await x.store.setQuota(null, quota({ maxRunningJobs: 1 }));
      const user = `${x.owner}-user`;
      const ghost = `${x.owner}-ghost`;
      await x.store.createUser({ name: user, role: 'user', weight: 1 });
      const users = await x.enqueue(2, { owner: user });
      const ghosts = await x.enqueue(2, { owner: ghost });
      const out = await x.store.assign(placements([...users, ...ghosts]), LEASE_MS);
      expect(assigned(out)).toEqual([users[0], ghosts[0]]);
    });

    it('takes placements in order, each counting against the later ones of the same owner', async () => {
      const x = f();
      await x.store.setQuota(null, quota({ maxRunningJobs: 2, maxGpus: 4 }));
      const other = `${x.owner}-other`;
      const [a1, a2, a3] = await x.enqueue(3);
      const [b1, b2] = await x.enqueue(2, { owner: other });
      // A job placed twice (stale the second time) does not count twice.
      const out = await x.store.assign(placements([a1!, b1!, a1!, a3!, b2!, a2!]), LEASE_MS);
      expect(assigned(out)).toEqual([a1, b1, a3, b2]);
      expect(await x.state(a2!)).toBe('queued');

      // A placement over the GPU quota is skipped; a smaller one after it still fits.
      const gpus = `${x.owner}-gpus`;
      const [big] = await x.enqueue(1, { owner: gpus, ...GPUS(3) });
      const [bigger] = await x.enqueue(1, { owner: gpus, ...GPUS(2) });
      const [small] = await x.enqueue(1, { owner: gpus, ...GPUS(1) });
      const gpuOut = await x.store.assign(
        [...placements([big!], 3), ...placements([bigger!], 2), ...placements([small!], 1)],
        LEASE_MS,
      );
      expect(assigned(gpuOut)).toEqual([big, small]);
    });

    it('refuses nothing without a quota, or with one that limits only submissions', async () => {
      const x = f();
      const ids = await x.enqueue(5, GPUS(8));
      expect(assigned(await x.store.assign(placements(ids.slice(0, 2), 8), LEASE_MS))).toEqual(ids.slice(0, 2));
      await x.store.setQuota(null, quota({ maxQueuedJobs: 1, submitRatePerSec: 1 }));
      expect(assigned(await x.store.assign(placements(ids.slice(2), 8), LEASE_MS))).toEqual(ids.slice(2));
    });

    it('never overshoots a quota when two stores on the database assign at once', async () => {
      const x = f();
      await x.store.setQuota(null, quota({ maxRunningJobs: 5, maxGpus: 6 }));
      const gpuOwner = `${x.owner}-gpus`;
      const plain = await x.enqueue(20);
      const gpuJobs = await x.enqueue(10, { owner: gpuOwner, ...GPUS(2) });
      // Another store on the same data where the backend shares it (an in-memory SQLite store does not).
      const other = await x.openWith({});
      const second: Store = (await other.getJob(plain[0]!)) ? other : x.store;
      // Each store assigns its own half of each owner's jobs, a few at a time, at once.
      const calls = (store: Store, half: number) =>
        Array.from({ length: 5 }, (_, i) => {
          const n = half * 10 + i * 2;
          return store.assign(
            [...placements(plain.slice(n, n + 2)), ...placements(gpuJobs.slice(n / 2, n / 2 + 1), 2)],
            LEASE_MS,
          );
        });
      const outs = await Promise.all([...calls(x.store, 0), ...calls(second, 1)]);
      const all = outs.flat().map((a) => a.job);
      expect(all.filter((j) => j.owner === x.owner)).toHaveLength(5);
      expect(all.filter((j) => j.owner === gpuOwner)).toHaveLength(3);
      expect(await x.store.ownerUsage(x.owner)).toMatchObject({ leasedJobs: 5, leasedGpus: 0, waitingJobs: 15 });
      expect(await x.store.ownerUsage(gpuOwner)).toMatchObject({ leasedJobs: 3, leasedGpus: 6, waitingJobs: 7 });
    });
  });
}
