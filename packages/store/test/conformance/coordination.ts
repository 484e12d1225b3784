import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { SHARD_COUNT } from '@baton/core';
import type { StoreEvent } from '@baton/store';
import type { Fixture } from './fixture.js';

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5000, interval: 5 });

/**
 * Coordination of many servers: scheduler liveness, shard leases, agent reports, messages.
 * Each test's store starts empty, so every listing is asserted whole.
 */
export function coordinationTests(f: () => Fixture): void {
  const id = (name: string) => `${name}-${randomBytes(5).toString('hex')}`;
  /** A scheduler shard somewhere in the fixed range, so tests do not all use shard 0. */
  const shardBase = () => randomInt(0, SHARD_COUNT - 2);

  describe('scheduler liveness', () => {
    it('lists every live scheduler and forgets one that stops heartbeating or is removed', async () => {
      const x = f();
      const [a, b, c] = [id('sched-a'), id('sched-b'), id('sched-c')];
      expect(await x.store.heartbeatScheduler(a, 5000)).toEqual([a]);
      expect(await x.store.heartbeatScheduler(b, 5000)).toEqual([a, b].sort());
      expect(await x.store.heartbeatScheduler(c, 20_000)).toEqual([a, b, c].sort());
      await x.store.removeScheduler(b);
      expect(await x.store.heartbeatScheduler(a, 5000)).toEqual([a, c].sort());
      x.advance(6000); // a's liveness ran out; c's has not
      expect(await x.store.heartbeatScheduler(c, 20_000)).toEqual([c]);
    });
  });

  describe('shard leases', () => {
    it('gives a shard to one owner at a time, until its lease runs out', async () => {
      const x = f();
      const s = shardBase();
      const [a, b] = [id('owner-a'), id('owner-b')];
      expect(await x.store.claimShards(a, [s, s + 1], 5000)).toEqual([s, s + 1]);
      expect(await x.store.claimShards(b, [s + 1, s + 2], 5000)).toEqual([s + 2]);
      const leases = await x.store.shardLeases();
      expect(leases.sort((p, q) => p.shard - q.shard)).toEqual([
        { shard: s, owner: a, expiresAt: x.now + 5000 },
        { shard: s + 1, owner: a, expiresAt: x.now + 5000 },
        { shard: s + 2, owner: b, expiresAt: x.now + 5000 },
      ]);
      x.advance(3000);
      // Renewing extends a's leases; b's stay as they were.
      expect(await x.store.claimShards(a, [s, s + 1], 5000)).toEqual([s, s + 1]);
      x.advance(3000); // b's lease on s+2 has run out, a's have not
      expect(await x.store.claimShards(b, [s + 1, s + 2], 5000)).toEqual([s + 2]);
      x.advance(3000); // now a's have too
      expect(await x.store.claimShards(b, [s + 1, s + 2], 5000)).toEqual([s + 1, s + 2]);
      expect(await x.store.claimShards(a, [s, s + 1], 5000)).toEqual([s]);
    });

    it('gives up the shards an owner no longer lists, and all of them when it is removed', async () => {
      const x = f();
      const s = shardBase();
      const [a, b] = [id('owner-a'), id('owner-b')];
      await x.store.heartbeatScheduler(a, 5000);
      expect(await x.store.claimShards(a, [s, s + 1, s + 2], 5000)).toEqual([s, s + 1, s + 2]);
      expect(await x.store.claimShards(a, [s + 2], 5000)).toEqual([s + 2]);
      // Given up at once: b takes them with a's lease time not yet over.
      expect(await x.store.claimShards(b, [s, s + 1, s + 2], 5000)).toEqual([s, s + 1]);
      await x.store.removeScheduler(a);
      expect(await x.store.claimShards(b, [s, s + 1, s + 2], 5000)).toEqual([s, s + 1, s + 2]);
      expect(await x.store.claimShards(b, [], 5000)).toEqual([]);
      expect(await x.store.shardLeases()).toEqual([]);
    });
  });

  describe('agent reports', () => {
    it('keeps the latest report of each server until it expires', async () => {
      const x = f();
      const [s1, s2] = [id('server-1'), id('server-2')];
      const report = { agents: [{ id: 'agent-1', free: 3, gpus: [0, 2], cpu: null, nested: { ok: true } }] };
      await x.store.putAgents(s1, report, 5000);
      await x.store.putAgents(s2, { agents: [] }, 20_000);
      const byServer = (all: { serverId: string }[]) => [...all].sort((p, q) => (p.serverId < q.serverId ? -1 : 1));
      expect(byServer(await x.store.agentReports())).toEqual([
        { serverId: s1, report, at: x.now },
        { serverId: s2, report: { agents: [] }, at: x.now },
      ]);
      x.advance(1000);
      await x.store.putAgents(s1, { agents: [] }, 5000);
      expect(byServer(await x.store.agentReports())).toEqual([
        { serverId: s1, report: { agents: [] }, at: x.now },
        { serverId: s2, report: { agents: [] }, at: x.now - 1000 },
      ]);
      x.advance(6000); // s1's report expired; s2's has not
      expect(await x.store.agentReports()).toEqual([{ serverId: s2, report: { agents: [] }, at: x.now - 7000 }]);
    });
  });

  describe('publish', () => {
    it('delivers a message to the publishing store’s listeners once', async () => {
      const x = f();
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      try {
        const serverId = id('server');
        const message: StoreEvent = {
          type: 'offer',
          serverId,
          placements: [
            {
              jobId: '01ARZ3NDEKTSV4RRFFQ69G5FAV',
              agentId: 'agent-1',
              gpus: [1],
              resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 1 },
            },
          ],
        };
        await x.store.publish(message);
        await x.store.publish({ type: 'capacity', serverId });
        const mine = () => events.filter((e) => 'serverId' in e && e.serverId === serverId);
        await waitFor(() => expect(mine()).toHaveLength(2));
        await new Promise((r) => setTimeout(r, 50)); // no second delivery arrives late
        expect(mine()).toEqual([message, { type: 'capacity', serverId }]);
      } finally {
        unsubscribe();
      }
    });
  });

  describe('server claim', () => {
    it('lets a server claim its store, again and again; many servers share PostgreSQL and Redis', async () => {
      const x = f();
      await x.store.claimServer(id('server-a'));
      await x.store.claimServer(id('server-a'));
      if (x.store.backend !== 'sqlite') {
        // SQLite's refusal of a second server is tested with two processes (sqlite-server-claim.test.ts).
        await (await x.openWith({})).claimServer(id('server-b'));
      }
      const [jobId] = await x.enqueue(1);
      expect(await x.state(jobId!)).toBe('queued');
    });
  });
}
