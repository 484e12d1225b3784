import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BatonError, DEFAULT_RESOURCES, ValidationError, newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store, StoreEvent } from '@baton/store';
import type { RedisStore } from '@baton/store/redis';
import { Redis } from 'ioredis';
import { defineStoreConformance } from './conformance.js';
import { dropPrefix } from './redis-prefix.js';

const HOST = '127.0.0.1';
const PORT = 6379;
/** One prefix per run of this file, so runs never see each other's keys. */
const prefix = `baton-test-${randomBytes(5).toString('hex')}`;
const url = `redis://${HOST}:${PORT}?prefix=${prefix}`;

/**
 * The conformance suite's database: each test gets a prefix of its own there, dropped after
 * it. Not database 0, where other runs keep many keys: dropping a prefix SCANs its database.
 */
const CONFORMANCE_DB = 11;
const conformance = new Redis({ host: HOST, port: PORT, db: CONFORMANCE_DB, lazyConnect: true });
let conformancePrefixes = 0;

afterAll(async () => {
  const redis = new Redis({ host: HOST, port: PORT });
  try {
    await dropPrefix(redis, prefix);
  } finally {
    await redis.quit();
    await conformance.quit();
  }
});

defineStoreConformance('redis', async () => {
  const testPrefix = `${prefix}-c${conformancePrefixes++}`;
  return {
    open: (options) => openStore(`redis://${HOST}:${PORT}/${CONFORMANCE_DB}?prefix=${testPrefix}`, options),
    drop: async () => {
      await dropPrefix(conformance, testPrefix);
    },
  };
});

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue: `q-${randomBytes(4).toString('hex')}`,
    task: 't',
    owner: 'o',
    payload: null,
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    maxAttempts: 3,
    backoffMs: 10,
    timeoutMs: null,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
    ...overrides,
  };
}

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

describe('Redis specifics', () => {
  it('delivers an enqueue to every store on the prefix, once each, whichever store made it', async () => {
    const one = await openStore(url);
    const two = await openStore(url);
    const seen: [string, StoreEvent][] = [];
    const offOne = one.subscribe((e) => seen.push(['one', e]));
    const offTwo = two.subscribe((e) => seen.push(['two', e]));
    try {
      const fromOne = newJob();
      const fromTwo = newJob();
      await one.enqueue([fromOne]);
      await two.enqueue([fromTwo]);
      const about = (queue: string) =>
        seen.filter(([, e]) => e.type === 'enqueued' && e.queues.includes(queue)).map(([who]) => who);
      await vi.waitFor(
        () => {
          expect(about(fromOne.queue).sort()).toEqual(['one', 'two']);
          expect(about(fromTwo.queue).sort()).toEqual(['one', 'two']);
        },
        { timeout: 5000, interval: 5 },
      );
      // Nothing arrives twice later on.
      await new Promise((r) => setTimeout(r, 100));
      expect(about(fromOne.queue).sort()).toEqual(['one', 'two']);
      expect(about(fromTwo.queue).sort()).toEqual(['one', 'two']);
    } finally {
      offOne();
      offTwo();
      await one.close();
      await two.close();
    }
  });

  it('assigns each job once when two stores assign the same placements at the same time', async () => {
    const one = await openStore(url);
    const two = await openStore(url);
    try {
      const jobs = Array.from({ length: 200 }, () => newJob({ queue: 'race' }));
      await one.enqueue(jobs);
      const placements = (agentId: string) => jobs.map((j) => ({ jobId: j.id, agentId, gpus: [] }));
      const [a, b] = await Promise.all([
        one.assign(placements('agent-a'), 10_000),
        two.assign(placements('agent-b'), 10_000),
      ]);
      const ids = [...a, ...b].map((x) => x.job.id);
      expect(ids.sort()).toEqual(jobs.map((j) => j.id).sort());
      for (const x of [...a, ...b]) {
        const job = await one.getJob(x.job.id);
        expect(job).toMatchObject({ state: 'assigned', attempts: 1, agentId: x.job.agentId });
        expect(await one.getAttempts(x.job.id)).toHaveLength(1);
      }
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('reads a page of logs without reading the chunks before it (LRANGE of the page only)', async () => {
    const store = await openStore(url);
    const monitor = new Redis({ host: HOST, port: PORT });
    const ranges: string[][] = [];
    try {
      const [enqueued] = await store.enqueue([newJob()]);
      const job = enqueued!.job;
      const lines = Array.from({ length: 3000 }, (_, i) => ({
        jobId: job.id,
        attempt: 1,
        stream: 'stdout' as const,
        data: `${i}\n`,
      }));
      await store.appendLogs(lines);
      const all = [...(await store.getLogs(job.id, 0, 10_000))];
      expect(all).toHaveLength(3000);
      const logsKey = `{${prefix}}:logs:${job.id}`;
      const feed = await monitor.monitor();
      feed.on('monitor', (_time: string, args: string[]) => {
        if (args[0]?.toLowerCase() === 'lrange' && args[1] === logsKey) ranges.push(args.slice(2));
      });
      const page = await store.getLogs(job.id, all[2989]!.seq, 5);
      expect(page.map((c) => c.data)).toEqual(['2990\n', '2991\n', '2992\n', '2993\n', '2994\n']);
      await vi.waitFor(() => expect(ranges).toHaveLength(1));
      expect(ranges[0]).toEqual(['2990', '2994']);
      feed.disconnect();
    } finally {
      monitor.disconnect();
      await store.close();
    }
  });

  it('fails quickly and clearly when Redis cannot be reached', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await openStore(`redis://${HOST}:${port}?prefix=${prefix}`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('STORE_UNAVAILABLE');
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('refuses Redis URLs it cannot use with INVALID_STORE_URL', async () => {
    for (const bad of [
      `redis://${HOST}:${PORT}?prefix=has{brace}`,
      `redis://${HOST}:${PORT}?colour=blue`,
      `redis://${HOST}:${PORT}/notanumber`,
      `redis://${HOST}:${PORT}?cluster=maybe`,
    ]) {
      const err = await openStore(bad).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, bad).toBeInstanceOf(ValidationError);
      expect((err as BatonError).code, bad).toBe('INVALID_STORE_URL');
    }
  });

  it('refuses a prefix whose schema is newer than this code', async () => {
    const newer = `${prefix}-newer`;
    const redis = new Redis({ host: HOST, port: PORT });
    try {
      await redis.set(`{${newer}}:schema`, '999');
      const err = await openStore(`redis://${HOST}:${PORT}?prefix=${newer}`).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as BatonError).code).toBe('SCHEMA_TOO_NEW');
    } finally {
      await redis.del(`{${newer}}:schema`);
      await redis.quit();
    }
  });

  /** Opens a store on a prefix of its own, runs `body`, then removes every key of that prefix. */
  async function withOwnPrefix(
    name: string,
    body: (p: string, redis: Redis, keys: () => Promise<string[]>) => Promise<void>,
  ): Promise<void> {
    const p = `${prefix}-${name}`;
    const redis = new Redis({ host: HOST, port: PORT });
    const keys = async (): Promise<string[]> => (await redis.keys(`{${p}}:*`)).sort();
    try {
      await body(p, redis, keys);
    } finally {
      const left = await keys();
      if (left.length > 0) await redis.unlink(...left);
      await redis.quit();
    }
  }

  it('leaves no trace of a job deleteFinished removed: no key, index member, count or idempotency field', async () => {
    await withOwnPrefix('retention', async (p, redis, keys) => {
      const store = await openStore(`redis://${HOST}:${PORT}?prefix=${p}`);
      try {
        const [r] = await store.enqueue([newJob({ idempotencyKey: 'k' })]);
        const id = r!.job.id;
        const [a1] = await store.assign([{ jobId: id, agentId: 'a', gpus: [] }], 60_000);
        await store.appendLogs([{ jobId: id, attempt: 1, stream: 'stdout', data: 'x' }]);
        await store.complete([
          {
            jobId: id,
            leaseToken: a1!.leaseToken,
            outcome: 'failed',
            error: { code: 'X', message: 'x', retryable: true },
          },
        ]);
        await store.promoteDue();
        await new Promise((resolve) => setTimeout(resolve, 50));
        await store.promoteDue();
        const [a2] = await store.assign([{ jobId: id, agentId: 'a', gpus: [] }], 60_000);
        await store.complete([{ jobId: id, leaseToken: a2!.leaseToken, outcome: 'succeeded', result: 1 }]);
        const [c] = await store.enqueue([newJob({ idempotencyKey: 'c', runAt: Date.now() + 60_000 })]);
        await store.cancel(c!.job.id);
        expect(await redis.zcard(`{${p}}:finished`)).toBe(2);
        expect(await keys()).toContain(`{${p}}:attempts:${id}`);

        expect(await store.deleteFinished(Date.now() + 1, 10)).toEqual({ deleted: 2 });
        // Every index emptied, so its key is gone too: only the layout's version is left.
        expect(await keys()).toEqual([`{${p}}:schema`]);
        expect(await store.queueStats()).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });

  it('upgrades a version 1 store: final jobs finished before the upgrade are indexed for retention', async () => {
    await withOwnPrefix('upgrade', async (p, redis) => {
      const open = () => openStore(`redis://${HOST}:${PORT}?prefix=${p}`);
      let store = await open();
      const [done, cancelled, queued] = (await store.enqueue([newJob(), newJob(), newJob()])).map((r) => r.job.id);
      const [a] = await store.assign([{ jobId: done!, agentId: 'a', gpus: [] }], 60_000);
      await store.complete([{ jobId: done!, leaseToken: a!.leaseToken, outcome: 'succeeded', result: null }]);
      await store.cancel(cancelled!);
      await store.close();
      // What version 1 left: no {p}:finished.
      await redis.del(`{${p}}:finished`);
      await redis.set(`{${p}}:schema`, '1');

      store = await open();
      try {
        expect(await redis.get(`{${p}}:schema`)).toBe('5');
        expect((await redis.zrange(`{${p}}:finished`, '0', '-1')).sort()).toEqual([done, cancelled].sort());
        expect(await store.deleteFinished(Date.now() + 1, 10)).toEqual({ deleted: 2 });
        expect(await store.getJob(done!)).toBeNull();
        expect(await store.getJob(queued!)).toMatchObject({ state: 'queued' });
      } finally {
        await store.close();
      }
    });
  });

  it('keeps every key of a store under its hash tag', async () => {
    const store: Store = await openStore(url);
    try {
      const [r] = await store.enqueue([newJob({ idempotencyKey: 'k' })]);
      await store.appendLogs([{ jobId: r!.job.id, attempt: 1, stream: 'stdout', data: 'x' }]);
      // Accounts too: users, tokens and each user's token index, quotas, owner counts.
      await store.createUser({ name: 'o', role: 'user', weight: 1 });
      await store.createToken({ id: `tok-${prefix}`, user: 'o', hash: 'h' });
      await store.setQuota('o', { maxRunningJobs: 5, maxGpus: null, maxQueuedJobs: null, submitRatePerSec: null });
      await store.assign([{ jobId: r!.job.id, agentId: 'a', gpus: [] }], 60_000);
      const redis = new Redis({ host: HOST, port: PORT });
      try {
        const keys = await redis.keys(`*${prefix}*`);
        for (const key of ['users', 'tokens', 'usertokens:o', 'quotas', 'owner:o']) {
          expect(keys).toContain(`{${prefix}}:${key}`);
        }
        for (const key of keys) expect(key.startsWith(`{${prefix}}:`), key).toBe(true);
      } finally {
        await redis.quit();
      }
    } finally {
      await store.close();
    }
  });

  it('coordinates stores on one prefix: a message reaches the other once, a live shard lease stays its owner’s', async () => {
    const now = Date.now();
    const clock = () => now;
    const one = (await openStore(url, { clock })) as RedisStore;
    const two = (await openStore(url, { clock })) as RedisStore;
    const seen: StoreEvent[] = [];
    const unsubscribe = two.subscribe((e) => seen.push(e));
    try {
      const serverId = `server-${randomBytes(5).toString('hex')}`;
      const offer: StoreEvent = {
        type: 'offer',
        serverId,
        placements: [{ jobId: newJobId(now), agentId: 'agent-1', gpus: [0, 1], resources: { ...DEFAULT_RESOURCES } }],
      };
      await one.publish(offer);
      const mine = () => seen.filter((e) => e.type === 'offer' && e.serverId === serverId);
      await vi.waitFor(() => expect(mine()).toHaveLength(1), { timeout: 5000, interval: 10 });
      await new Promise((resolve) => setTimeout(resolve, 100)); // nothing arrives twice later
      expect(mine()).toEqual([offer]);

      const shard = 1_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
      const [a, b] = [`owner-a-${serverId}`, `owner-b-${serverId}`];
      expect(await one.claimShards(a, [shard], 10_000)).toEqual([shard]);
      expect(await two.claimShards(b, [shard, shard + 1], 10_000)).toEqual([shard + 1]);
      const leases = (await two.shardLeases()).filter((l) => l.shard === shard || l.shard === shard + 1);
      expect(leases).toEqual([
        { shard, owner: a, expiresAt: now + 10_000 },
        { shard: shard + 1, owner: b, expiresAt: now + 10_000 },
      ]);
      await one.removeScheduler(a);
      await two.claimShards(b, [], 10_000);
      expect((await one.shardLeases()).filter((l) => l.shard === shard || l.shard === shard + 1)).toEqual([]);
    } finally {
      unsubscribe();
      await one.close();
      await two.close();
    }
  });
});
