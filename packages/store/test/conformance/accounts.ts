import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JOB_STATES } from '@baton/core';
import type { JobState } from '@baton/core';
import type { OwnerUsage, Quota } from '@baton/store';
import { NO_QUOTA } from '@baton/store';
import type { Fixture } from './fixture.js';
import { LEASE_MS, ref, rejection } from './fixture.js';

/** Every state at zero, then the given counts. */
const counts = (some: Partial<Record<JobState, number>> = {}): Record<JobState, number> => ({
  ...(Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>),
  ...some,
});

/** What the server stores for a token: the SHA-256 (hex) of its secret, never the secret. */
const hashOf = (secret: string): string => createHash('sha256').update(secret).digest('hex');

const QUOTA: Quota = { maxRunningJobs: 4, maxGpus: 8, maxQueuedJobs: 100, submitRatePerSec: 2.5 };

/** Issue 10: users, hashed API tokens and quotas kept in the store; owner usage. */
export function accountTests(f: () => Fixture): void {
  describe('accounts', () => {
    it('creates users on the store clock, reads them, and lists them all by name', async () => {
      const x = f();
      expect(await x.store.listUsers()).toEqual([]);
      const carol = await x.store.createUser({ name: 'carol', role: 'user', weight: 2.5 });
      expect(carol).toEqual({ name: 'carol', role: 'user', weight: 2.5, createdAt: x.now });
      const t1 = x.now;
      x.advance(1000);
      await x.store.createUser({ name: 'alice', role: 'admin', weight: 1 });
      await x.store.createUser({ name: 'bob', role: 'user', weight: 1 });
      expect(await x.store.getUser('carol')).toEqual(carol);
      expect(await x.store.getUser('alice')).toEqual({ name: 'alice', role: 'admin', weight: 1, createdAt: t1 + 1000 });
      expect(await x.store.getUser('nobody')).toBeNull();
      expect((await x.store.listUsers()).map((u) => u.name)).toEqual(['alice', 'bob', 'carol']);
      expect((await x.store.listUsers())[2]).toEqual(carol);
    });

    it('keeps the viewer role, created and changed to', async () => {
      const x = f();
      const vic = await x.store.createUser({ name: 'vic', role: 'viewer', weight: 1 });
      expect(await x.store.getUser('vic')).toEqual(vic);
      expect(vic.role).toBe('viewer');
      await x.store.createUser({ name: 'val', role: 'user', weight: 1 });
      expect((await x.store.updateUser('val', { role: 'viewer' })).role).toBe('viewer');
      expect((await x.store.listUsers()).map((u) => u.role)).toEqual(['viewer', 'viewer']);
    });

    it('changes a user’s role or weight, leaving the rest; an unknown user is USER_NOT_FOUND', async () => {
      const x = f();
      const dana = await x.store.createUser({ name: 'dana', role: 'user', weight: 1 });
      x.advance(500);
      expect(await x.store.updateUser('dana', { weight: 3.5 })).toEqual({ ...dana, weight: 3.5 });
      expect(await x.store.updateUser('dana', { role: 'admin' })).toEqual({ ...dana, weight: 3.5, role: 'admin' });
      expect(await x.store.updateUser('dana', {})).toEqual({ ...dana, weight: 3.5, role: 'admin' });
      expect(await x.store.getUser('dana')).toEqual({ ...dana, weight: 3.5, role: 'admin' });
      expect((await rejection(x.store.updateUser('nobody', { weight: 2 }))).code).toBe('USER_NOT_FOUND');
      expect(await x.store.getUser('nobody')).toBeNull();
      // Concurrent changes of one user each land whole.
      await Promise.all([x.store.updateUser('dana', { weight: 7 }), x.store.updateUser('dana', { role: 'user' })]);
      expect(await x.store.getUser('dana')).toMatchObject({ weight: 7, role: 'user' });
    });

    it('refuses a taken user name with USER_EXISTS, keeping the user as they were', async () => {
      const x = f();
      const bob = await x.store.createUser({ name: 'bob', role: 'user', weight: 1 });
      x.advance(1000);
      const err = await rejection(x.store.createUser({ name: 'bob', role: 'admin', weight: 3 }));
      expect(err.code).toBe('USER_EXISTS');
      expect(err.httpStatus).toBe(409);
      expect(await x.store.getUser('bob')).toEqual(bob);
      expect(await x.store.listUsers()).toEqual([bob]);
    });

    it('deletes a user with their tokens and quota, leaving their jobs and other users; false for an unknown user', async () => {
      const x = f();
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      const bob = await x.store.createUser({ name: 'bob', role: 'user', weight: 1 });
      await x.store.createToken({ id: 'tok-a1', user: 'alice', hash: hashOf('a1') });
      await x.store.createToken({ id: 'tok-a2', user: 'alice', hash: hashOf('a2') });
      const bobs = await x.store.createToken({ id: 'tok-b1', user: 'bob', hash: hashOf('b1') });
      await x.store.setQuota('alice', QUOTA);
      await x.store.setQuota('bob', QUOTA);
      const [job] = await x.enqueue(1, { owner: 'alice' });

      expect(await x.store.deleteUser('alice')).toBe(true);
      expect(await x.store.getUser('alice')).toBeNull();
      expect(await x.store.getToken('tok-a1')).toBeNull();
      expect(await x.store.getToken('tok-a2')).toBeNull();
      expect(await x.store.listTokens('alice')).toEqual([]);
      expect(await x.store.getQuota('alice')).toBeNull();
      expect(await x.state(job!)).toBe('queued');
      expect(await x.store.listUsers()).toEqual([bob]);
      expect(await x.store.getToken('tok-b1')).toEqual(bobs);
      expect(await x.store.getQuota('bob')).toEqual(QUOTA);

      expect(await x.store.deleteUser('alice')).toBe(false);
      expect(await x.store.deleteUser('nobody')).toBe(false);
      // The name is free again, and the new user inherits nothing.
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      expect(await x.store.listTokens('alice')).toEqual([]);
      expect(await x.store.getQuota('alice')).toBeNull();
    });
  });

  describe('tokens', () => {
    it('stores a token’s hash as given, on the store clock, and finds it by id', async () => {
      const x = f();
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      const secret = randomBytes(24).toString('base64url');
      const hash = hashOf(secret);
      x.advance(500);
      const token = await x.store.createToken({ id: 'tok-1', user: 'alice', hash });
      expect(token).toEqual({ id: 'tok-1', user: 'alice', hash, createdAt: x.now });
      x.advance(500);
      expect(await x.store.getToken('tok-1')).toEqual(token);
      expect(await x.store.getToken('tok-unknown')).toBeNull();
      // Only the hash was given, and only the hash comes back.
      expect(JSON.stringify(await x.store.listTokens('alice'))).not.toContain(secret);
    });

    it('refuses a token of an unknown or deleted user with USER_NOT_FOUND, storing nothing', async () => {
      const x = f();
      const err = await rejection(x.store.createToken({ id: 'tok-1', user: 'nobody', hash: hashOf('s') }));
      expect(err.code).toBe('USER_NOT_FOUND');
      expect(err.httpStatus).toBe(404);
      expect(await x.store.getToken('tok-1')).toBeNull();

      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      await x.store.deleteUser('alice');
      expect((await rejection(x.store.createToken({ id: 'tok-2', user: 'alice', hash: hashOf('s') }))).code).toBe(
        'USER_NOT_FOUND',
      );
      expect(await x.store.getToken('tok-2')).toBeNull();
      expect(await x.store.listTokens('alice')).toEqual([]);
    });

    it('refuses a taken token id with TOKEN_EXISTS, keeping the first token', async () => {
      const x = f();
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      await x.store.createUser({ name: 'bob', role: 'user', weight: 1 });
      const first = await x.store.createToken({ id: 'tok-1', user: 'alice', hash: hashOf('one') });
      x.advance(10);
      for (const user of ['alice', 'bob']) {
        const err = await rejection(x.store.createToken({ id: 'tok-1', user, hash: hashOf('two') }));
        expect(err.code).toBe('TOKEN_EXISTS');
        expect(err.httpStatus).toBe(409);
      }
      expect(await x.store.getToken('tok-1')).toEqual(first);
      expect(await x.store.listTokens('bob')).toEqual([]);
    });

    it('lists a user’s tokens oldest first, only theirs', async () => {
      const x = f();
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      await x.store.createUser({ name: 'bob', role: 'user', weight: 1 });
      // Ids in the reverse of creation order: the list follows creation, not ids.
      const made = [];
      for (const id of ['tok-c', 'tok-b', 'tok-a']) {
        made.push(await x.store.createToken({ id, user: 'alice', hash: hashOf(id) }));
        await x.store.createToken({ id: `${id}-bob`, user: 'bob', hash: hashOf(`${id}-bob`) });
        x.advance(1000);
      }
      expect(await x.store.listTokens('alice')).toEqual(made);
      expect((await x.store.listTokens('bob')).map((t) => t.id)).toEqual(['tok-c-bob', 'tok-b-bob', 'tok-a-bob']);
      expect(await x.store.listTokens('nobody')).toEqual([]);
    });

    it('deletes a token, answering what it was, then null', async () => {
      const x = f();
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      const one = await x.store.createToken({ id: 'tok-1', user: 'alice', hash: hashOf('one') });
      const two = await x.store.createToken({ id: 'tok-2', user: 'alice', hash: hashOf('two') });
      expect(await x.store.deleteToken('tok-1')).toEqual(one);
      expect(await x.store.getToken('tok-1')).toBeNull();
      expect(await x.store.deleteToken('tok-1')).toBeNull();
      expect(await x.store.deleteToken('tok-unknown')).toBeNull();
      expect(await x.store.listTokens('alice')).toEqual([two]);
      expect(await x.store.getUser('alice')).not.toBeNull();
    });
  });

  describe('quotas', () => {
    it('has no user quota and a default of no limits until set', async () => {
      const x = f();
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      expect(await x.store.getQuota('alice')).toBeNull();
      expect(await x.store.getQuota('nobody')).toBeNull();
      expect(await x.store.getQuota(null)).toEqual(NO_QUOTA);
    });

    it('sets and replaces the default quota whole; null sets it back to no limits', async () => {
      const x = f();
      await x.store.setQuota(null, QUOTA);
      expect(await x.store.getQuota(null)).toEqual(QUOTA);
      const fewer: Quota = { ...NO_QUOTA, maxGpus: 2 };
      await x.store.setQuota(null, fewer);
      expect(await x.store.getQuota(null)).toEqual(fewer);
      await x.store.setQuota(null, null);
      expect(await x.store.getQuota(null)).toEqual(NO_QUOTA);
    });

    it('sets a user’s own quota, replacing it whole, apart from the default; null removes it', async () => {
      const x = f();
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      await x.store.createUser({ name: 'bob', role: 'user', weight: 1 });
      const byDefault: Quota = { maxRunningJobs: 10, maxGpus: 16, maxQueuedJobs: 1000, submitRatePerSec: 50 };
      await x.store.setQuota(null, byDefault);
      await x.store.setQuota('alice', QUOTA);
      expect(await x.store.getQuota('alice')).toEqual(QUOTA);
      // A field left null in the user's quota stays null: it is not the default's.
      const onlyGpus: Quota = { ...NO_QUOTA, maxGpus: 1 };
      await x.store.setQuota('alice', onlyGpus);
      expect(await x.store.getQuota('alice')).toEqual(onlyGpus);
      expect(await x.store.getQuota('bob')).toBeNull();
      expect(await x.store.getQuota(null)).toEqual(byDefault);

      await x.store.setQuota('alice', null);
      expect(await x.store.getQuota('alice')).toBeNull();
      expect(await x.store.getQuota(null)).toEqual(byDefault);
      expect(await x.store.getUser('alice')).not.toBeNull();
    });

    it('refuses a quota for an unknown user with USER_NOT_FOUND, storing nothing', async () => {
      const x = f();
      const err = await rejection(x.store.setQuota('nobody', QUOTA));
      expect(err.code).toBe('USER_NOT_FOUND');
      expect(err.httpStatus).toBe(404);
      expect(await x.store.getQuota('nobody')).toBeNull();
      expect(await x.store.getQuota(null)).toEqual(NO_QUOTA);
      // Created later, the user has no quota from before.
      await x.store.createUser({ name: 'nobody', role: 'user', weight: 1 });
      expect(await x.store.getQuota('nobody')).toBeNull();
    });
  });

  describe('owner usage', () => {
    const nothing = (owner: string): OwnerUsage => ({
      owner,
      queues: [],
      leasedJobs: 0,
      leasedGpus: 0,
      waitingJobs: 0,
    });

    it('is all zero for an owner with no jobs, user or not', async () => {
      const x = f();
      await x.store.createUser({ name: 'alice', role: 'user', weight: 1 });
      await x.enqueue(2, { owner: 'someone-else' });
      expect(await x.store.ownerUsage('alice')).toEqual(nothing('alice'));
      expect(await x.store.ownerUsage(x.owner)).toEqual(nothing(x.owner));
    });

    it('counts one mixed batch exactly: owners, queues, states, and repeats of an idempotency key not again', async () => {
      const x = f();
      const other = x.otherQueue('mixed');
      const second = `${x.owner}-2`;
      const batch = [
        x.job({ idempotencyKey: 'k1' }),
        x.job({ idempotencyKey: 'k1' }), // a repeat in the batch: the same job
        x.job({ queue: other, runAt: x.now + 60_000 }),
        x.job({ owner: second, resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 4 } }),
        x.job({ owner: second, queue: other }),
        x.job(),
      ];
      await x.store.enqueue(batch);
      // Sent again: nothing new is counted.
      await x.store.enqueue([x.job({ idempotencyKey: 'k1' })]);
      expect((await x.store.ownerUsage(x.owner)).queues).toEqual([
        { queue: x.queue, counts: counts({ queued: 2 }) },
        { queue: other, counts: counts({ delayed: 1 }) },
      ]);
      expect((await x.store.ownerUsage(x.owner)).waitingJobs).toBe(3);
      expect((await x.store.ownerUsage(second)).queues).toEqual([
        { queue: x.queue, counts: counts({ queued: 1 }) },
        { queue: other, counts: counts({ queued: 1 }) },
      ]);
    });

    it('counts one mixed assign batch exactly: owners, queues, GPUs, and placements that assign nothing', async () => {
      const x = f();
      const other = x.otherQueue('mixed-assign');
      const second = `${x.owner}-2`;
      const fourGpus = { resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 4 } };
      const threeSlots = { resources: { slots: 3, cpu: 0, memoryMb: 0, gpus: 0 } };
      const [a1] = await x.enqueue(2);
      const [g1] = await x.enqueue(1, fourGpus);
      const [o1] = await x.enqueue(1, { queue: other, ...threeSlots });
      const [s1] = await x.enqueue(2, { owner: second });
      const [gone] = await x.enqueue(1, { owner: second });
      await x.store.cancel(gone!);
      const placed = await x.store.assign(
        [
          { jobId: a1!, agentId: 'agent-1', gpus: [] },
          { jobId: g1!, agentId: 'agent-1', gpus: [0, 1, 2, 3] },
          { jobId: s1!, agentId: 'agent-2', gpus: [] },
          { jobId: o1!, agentId: 'agent-2', gpus: [] },
          { jobId: a1!, agentId: 'agent-2', gpus: [] }, // placed twice: assigned once
          { jobId: gone!, agentId: 'agent-2', gpus: [] }, // cancelled: not assigned
          { jobId: 'no-such-job', agentId: 'agent-2', gpus: [] },
        ],
        LEASE_MS,
      );
      expect(placed.map((p) => p.job.id).sort()).toEqual([a1!, g1!, s1!, o1!].sort());

      expect(await x.store.ownerUsage(x.owner)).toEqual<OwnerUsage>({
        owner: x.owner,
        queues: [
          { queue: x.queue, counts: counts({ queued: 1, assigned: 2 }) },
          { queue: other, counts: counts({ assigned: 1 }) },
        ].sort((p, q) => p.queue.localeCompare(q.queue)),
        leasedJobs: 3,
        leasedGpus: 4,
        waitingJobs: 1,
      });
      expect((await x.store.ownerUsage(second)).queues).toEqual([
        { queue: x.queue, counts: counts({ queued: 1, assigned: 1, cancelled: 1 }) },
      ]);
      // Fair share's units: the GPU job counts its GPUs, the others their slots.
      const loads = (await x.store.ownerLoads()).filter((l) => l.owner === x.owner || l.owner === second);
      expect(loads.sort((p, q) => p.owner.localeCompare(q.owner))).toEqual([
        { owner: x.owner, leasedJobs: 3, leasedGpus: 4, leasedUnits: 1 + 4 + 3 },
        { owner: second, leasedJobs: 1, leasedGpus: 0, leasedUnits: 1 },
      ]);
      const queueCounts = (await x.store.queueStats()).find((s) => s.queue === x.queue)?.counts;
      expect(queueCounts).toMatchObject({ queued: 2, assigned: 3, cancelled: 1 });

      // And back out: every assigned job finishes, the counts follow.
      await x.store.complete(placed.map((p) => x.succeed(p)));
      expect(await x.store.ownerLoads().then((l) => l.filter((o) => o.owner === x.owner))).toEqual([]);
      expect((await x.store.ownerUsage(second)).queues).toEqual([
        { queue: x.queue, counts: counts({ queued: 1, succeeded: 1, cancelled: 1 }) },
      ]);
    });

    it('counts an owner’s jobs per queue and state, and their leased GPUs, through the jobs’ lives', async () => {
      const x = f();
      const other = x.otherQueue('b');
      const gpuJob = { resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 2 } };
      const [a, b] = await x.enqueue(2, gpuJob);
      await x.enqueue(1, { queue: other, runAt: x.now + 60_000 });
      await x.enqueue(3, { owner: 'someone-else' });
      expect(await x.store.ownerUsage(x.owner)).toEqual<OwnerUsage>({
        owner: x.owner,
        queues: [
          { queue: x.queue, counts: counts({ queued: 2 }) },
          { queue: other, counts: counts({ delayed: 1 }) },
        ],
        leasedJobs: 0,
        leasedGpus: 0,
        waitingJobs: 3,
      });

      const leaseA = await x.assign(a!, 'agent-1', [0, 1]);
      const leaseB = await x.assign(b!, 'agent-2', [0, 1]);
      await x.store.start([ref(leaseB)], LEASE_MS);
      let usage = await x.store.ownerUsage(x.owner);
      expect(usage.queues[0]).toEqual({ queue: x.queue, counts: counts({ assigned: 1, running: 1 }) });
      expect(usage).toMatchObject({ leasedJobs: 2, leasedGpus: 4, waitingJobs: 1 });

      await x.store.complete([x.succeed(leaseA), x.fail(leaseB, false)]);
      usage = await x.store.ownerUsage(x.owner);
      expect(usage.queues[0]).toEqual({ queue: x.queue, counts: counts({ succeeded: 1, failed: 1 }) });
      expect(usage).toMatchObject({ leasedJobs: 0, leasedGpus: 0, waitingJobs: 1 });
      expect((await x.store.ownerUsage('someone-else')).queues).toEqual([
        { queue: x.queue, counts: counts({ queued: 3 }) },
      ]);

      // Deleting finished jobs takes them out of the counts; a queue with none left goes.
      expect(await x.store.deleteFinished(x.now + 1, 10)).toEqual({ deleted: 2 });
      usage = await x.store.ownerUsage(x.owner);
      expect(usage.queues).toEqual([{ queue: other, counts: counts({ delayed: 1 }) }]);
    });
  });
}
