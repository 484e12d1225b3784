import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BatonError, DEFAULT_RESOURCES, SchemaTooNewError, ValidationError, newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store, StoreEvent } from '@baton/store';
import type { PostgresStore } from '@baton/store/postgres';
import { defineStoreConformance } from './conformance.js';

/** The test server; BATON_TEST_PG_URL points elsewhere. */
const SERVER = process.env.BATON_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
/** One schema per run of this file, so runs never see each other's jobs; dropped at the end. */
const SCHEMA = `baton_test_${randomBytes(5).toString('hex')}`;
/** Every store this file opens names itself so, and afterAll checks none is left connected. */
const withSchema = (schema: string, applicationName = SCHEMA) =>
  `${SERVER}${SERVER.includes('?') ? '&' : '?'}schema=${schema}&application_name=${applicationName}`;
const URL = withSchema(SCHEMA);
const extraSchemas: string[] = [];

afterAll(async () => {
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  try {
    // Closed stores leave no connection behind (the server notices an end within moments).
    await vi.waitFor(
      async () => {
        const { rows } = await admin.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE $1',
          [`${SCHEMA}%`],
        );
        expect(Number(rows[0]!.n)).toBe(0);
      },
      { timeout: 5000, interval: 50 },
    );
  } finally {
    for (const schema of [SCHEMA, ...extraSchemas]) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

/**
 * The conformance suite's schema: migrated once, and emptied after every test (a DELETE from
 * each of its tables, read from the catalog, so tables a later migration adds are emptied
 * too), so each test begins on an empty store. A fresh schema per test costs about a second
 * each (migrating 16 partitions and their indexes, then dropping them): 10.8 s for this file
 * grew to 50–56 s. Emptying takes a few milliseconds. Dropped with the others in afterAll.
 */
const CONFORMANCE_SCHEMA = `${SCHEMA}_conformance`;
extraSchemas.push(CONFORMANCE_SCHEMA);
const janitor = new pg.Client({ connectionString: SERVER });
const janitorReady = janitor.connect();
afterAll(async () => {
  await janitorReady.catch(() => {});
  await janitor.end();
});

async function emptySchema(schema: string): Promise<void> {
  await janitorReady;
  // Jobs first: their delete triggers count down queue_counts and owner_counts, which must be
  // emptied after, not left with the negative counts of the jobs just deleted.
  const { rows } = await janitor.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'
    ORDER BY tablename <> 'jobs', tablename`,
    [schema],
  );
  await janitor.query(rows.map((r) => `DELETE FROM "${schema}"."${r.tablename}";`).join('\n'));
}

defineStoreConformance('postgres', async () => ({
  open: (options) => openStore(withSchema(CONFORMANCE_SCHEMA), options),
  drop: () => emptySchema(CONFORMANCE_SCHEMA),
}));

function newJob(queue: string, overrides: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue,
    task: 't',
    owner: 'o',
    payload: null,
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    maxAttempts: 3,
    backoffMs: 0,
    timeoutMs: null,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
    ...overrides,
  };
}

const queueName = () => `q-${randomBytes(6).toString('hex')}`;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (err: unknown) => err,
  );
}

describe('PostgreSQL specifics', () => {
  it('refuses a schema newer than it knows, and leaves it untouched', async () => {
    const schema = `${SCHEMA}_newer`;
    extraSchemas.push(schema);
    const store = await openStore(withSchema(schema));
    const [r] = await store.enqueue([newJob(queueName())]);
    await store.close();
    const admin = new pg.Client({ connectionString: SERVER });
    await admin.connect();
    try {
      await admin.query(
        `INSERT INTO "${schema}".schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)`,
      );
      const err = await failure(openStore(withSchema(schema)));
      expect(err).toBeInstanceOf(SchemaTooNewError);
      expect((err as BatonError).code).toBe('SCHEMA_TOO_NEW');
      expect((err as Error).message).toMatch(/999/);
      const versions = await admin.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      expect(versions.rows.at(-1)).toEqual({ version: 999 });
      const jobs = await admin.query(`SELECT id FROM "${schema}".jobs`);
      expect(jobs.rows).toEqual([{ id: r!.job.id }]);
    } finally {
      await admin.end();
    }
  });

  it('migrates once when several stores start together on a new schema', async () => {
    const schema = `${SCHEMA}_race`;
    extraSchemas.push(schema);
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(withSchema(schema))));
    try {
      const queue = queueName();
      await stores[0]!.enqueue([newJob(queue)]);
      expect(await stores[3]!.pending([{ queue, limit: 5 }])).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('delivers events across stores on one schema by NOTIFY, each exactly once', async () => {
    const one = await openStore(URL);
    const two = await openStore(URL);
    const seen: [StoreEvent[], StoreEvent[]] = [[], []];
    const unsubscribe = [one.subscribe((e) => seen[0].push(e)), two.subscribe((e) => seen[1].push(e))];
    const mentions = (queue: string) => (e: StoreEvent) => e.type === 'enqueued' && e.queues.includes(queue);
    try {
      const fromOne = queueName();
      const fromTwo = queueName();
      await one.enqueue([newJob(fromOne)]);
      await two.enqueue([newJob(fromTwo)]);
      await vi.waitFor(
        () => {
          for (const events of seen) {
            expect(events.filter(mentions(fromOne))).toHaveLength(1);
            expect(events.filter(mentions(fromTwo))).toHaveLength(1);
          }
        },
        { timeout: 5000, interval: 10 },
      );
      // Nothing arrives twice later either.
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const events of seen) expect(events.filter(mentions(fromOne))).toHaveLength(1);
    } finally {
      unsubscribe.forEach((u) => u());
      await one.close();
      await two.close();
    }
  });

  it('listens again after its connection drops, and says something may have changed', async () => {
    const appName = `${SCHEMA}_listen`;
    const listening = await openStore(withSchema(SCHEMA, appName));
    const sender = await openStore(URL);
    const events: StoreEvent[] = [];
    const unsubscribe = listening.subscribe((e) => events.push(e));
    const admin = new pg.Client({ connectionString: SERVER });
    await admin.connect();
    try {
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
        [appName],
      );
      expect(killed.rowCount).toBe(1);
      await vi.waitFor(() => expect(events).toContainEqual({ type: 'changed' }), { timeout: 5000, interval: 20 });
      const queue = queueName();
      await sender.enqueue([newJob(queue)]);
      await vi.waitFor(
        () => expect(events.filter((e) => e.type === 'enqueued' && e.queues.includes(queue))).toHaveLength(1),
        { timeout: 5000, interval: 10 },
      );
    } finally {
      unsubscribe();
      await admin.end();
      await listening.close();
      await sender.close();
    }
  });

  it('assigns each job once when two stores assign the same placements at once', async () => {
    const one = await openStore(URL);
    const two = await openStore(URL);
    try {
      const queue = queueName();
      const ids = (await one.enqueue(Array.from({ length: 200 }, () => newJob(queue)))).map((r) => r.job.id);
      const placements = (agent: string) => ids.map((jobId) => ({ jobId, agentId: agent, gpus: [] }));
      const results = await Promise.all([
        one.assign(placements('agent-one'), 60_000),
        two.assign([...placements('agent-two')].reverse(), 60_000),
        one.assign(placements('agent-three'), 60_000),
      ]);
      const assigned = results.flat().map((a) => a.job.id);
      expect(assigned.sort()).toEqual([...ids].sort());
      for (const a of results.flat()) {
        expect(await one.getJob(a.job.id)).toMatchObject({ state: 'assigned', agentId: a.job.agentId, attempts: 1 });
      }
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('keeps every owner within quota when four stores assign overlapping batches of several owners at once', async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(URL)));
    try {
      const queue = queueName();
      const tag = randomBytes(4).toString('hex');
      const [a, b, c] = ['a', 'b', 'c'].map((o) => `quota-${o}-${tag}`);
      const gpus = (n: number) => ({ resources: { ...DEFAULT_RESOURCES, gpus: n } });
      await stores[0]!.createUser({ name: a!, role: 'user', weight: 1 });
      await stores[0]!.createUser({ name: b!, role: 'user', weight: 1 });
      const none = { maxRunningJobs: null, maxGpus: null, maxQueuedJobs: null, submitRatePerSec: null };
      await stores[0]!.setQuota(a!, { ...none, maxRunningJobs: 7 });
      await stores[0]!.setQuota(b!, { ...none, maxGpus: 10 });
      // c has no account: unlimited, as the default is never set here.
      const jobs = [
        ...Array.from({ length: 30 }, () => newJob(queue, { owner: a! })),
        ...Array.from({ length: 30 }, () => newJob(queue, { owner: b!, ...gpus(2) })),
        ...Array.from({ length: 30 }, () => newJob(queue, { owner: c! })),
      ];
      const ids = (await stores[0]!.enqueue(jobs)).map((r) => r.job.id);
      // Each store places every job, in its own order: owners interleave differently in each batch.
      const orders = [ids, [...ids].reverse(), ids.filter((_, i) => i % 2 === 0), ids.filter((_, i) => i % 2 === 1)];
      const results = await Promise.all(
        stores.map((s, i) =>
          s.assign(
            orders[i]!.map((jobId) => ({ jobId, agentId: `agent-${i}`, gpus: [] })),
            60_000,
          ),
        ),
      );
      const assigned = results.flat();
      expect(new Set(assigned.map((x) => x.job.id)).size).toBe(assigned.length);
      const byOwner = (o: string) => assigned.filter((x) => x.job.owner === o).length;
      expect([byOwner(a!), byOwner(b!), byOwner(c!)]).toEqual([7, 5, 30]);
      expect(await stores[1]!.ownerUsage(b!)).toMatchObject({ leasedJobs: 5, leasedGpus: 10, waitingJobs: 25 });
      // The other tests of this schema assign without quotas again.
      await stores[0]!.deleteUser(a!);
      await stores[0]!.deleteUser(b!);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('loses no usage when four stores add to one owner at once, and decays it by the store clock', async () => {
    const now = Date.now();
    const halfLife = 60_000;
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(URL, { clock: () => now })));
    const later = await openStore(URL, { clock: () => now + halfLife });
    try {
      const tag = randomBytes(4).toString('hex');
      const [hot, warm] = [`usage-hot-${tag}`, `usage-warm-${tag}`];
      // 25 adds per store, side by side on its pool; batches name the two owners in either order.
      await Promise.all(
        stores.flatMap((store, i) =>
          Array.from({ length: 25 }, (_, k) =>
            store.addUsage(
              (i + k) % 2
                ? [
                    { owner: hot, units: 1 },
                    { owner: warm, units: 0.5 },
                  ]
                : [
                    { owner: warm, units: 0.5 },
                    { owner: hot, units: 1 },
                  ],
              halfLife,
            ),
          ),
        ),
      );
      const read = async (store: Store, owner: string) =>
        (await store.usage(halfLife)).find((u) => u.owner === owner)?.units;
      expect(await read(stores[0]!, hot)).toBe(100);
      expect(await read(stores[3]!, warm)).toBe(50);
      expect(await read(later, hot)).toBeCloseTo(50, 9);
    } finally {
      await Promise.all([...stores, later].map((s) => s.close()));
    }
  });

  it('keeps idempotency keys unique across partitions, also between concurrent stores', async () => {
    const one = await openStore(URL);
    const two = await openStore(URL);
    try {
      const queue = queueName();
      const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
      const owner = `owner-${randomBytes(4).toString('hex')}`;
      const batch = () => keys.map((idempotencyKey) => newJob(queue, { owner, idempotencyKey }));
      // Opposite orders: claims are taken in one order whatever the batch's, so no deadlock.
      const [a, reversed] = await Promise.all([one.enqueue(batch()), two.enqueue(batch().reverse())]);
      const b = reversed.reverse();
      for (let i = 0; i < keys.length; i++) {
        expect(a[i]!.job.id).toBe(b[i]!.job.id);
        expect(a[i]!.created !== b[i]!.created).toBe(true);
      }
      expect((await one.listJobs({ queue, limit: 100 })).jobs).toHaveLength(keys.length);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('refuses a URL without a database, and says clearly when the server cannot be reached', async () => {
    for (const url of ['postgres://', 'postgres://root@127.0.0.1:5432', 'postgresql://root@127.0.0.1/']) {
      const err = await failure(openStore(url));
      expect(err, url).toBeInstanceOf(ValidationError);
      expect((err as BatonError).code, url).toBe('INVALID_STORE_URL');
      expect((err as Error).message, url).toMatch(/database/);
    }
    for (const url of [`${SERVER}?schema=Bad-Name`, `${SERVER}?pool_size=0`]) {
      const err = await failure(openStore(url));
      expect((err as BatonError).code, url).toBe('INVALID_STORE_URL');
    }
    const err = await failure(openStore('postgres://root:secret@127.0.0.1:1/test'));
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('STORE_UNAVAILABLE');
    expect((err as BatonError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/127\.0\.0\.1:1/);
    expect((err as Error).message).not.toMatch(/secret/);
  });

  it('keeps payloads, results and errors as written, \\u0000 included', async () => {
    const store = await openStore(URL);
    try {
      const queue = queueName();
      const payload = { text: 'nul\u0000byte', big: 12345678901234, nested: [{ b: 1, a: 2 }] };
      const [created] = await store.enqueue([newJob(queue, { payload, maxAttempts: 1 })]);
      expect((await store.getJob(created!.job.id))!.payload).toEqual(payload);
      const [a] = await store.assign([{ jobId: created!.job.id, agentId: 'agent-1', gpus: [] }], 60_000);
      const error = { code: 'TASK_FAILED', message: 'stderr: \u0000\u0001', retryable: true };
      expect(await store.complete([{ jobId: a!.job.id, leaseToken: a!.leaseToken, outcome: 'failed', error }])).toEqual(
        [{ jobId: a!.job.id, ok: true, state: 'failed' }],
      );
      expect((await store.getJob(a!.job.id))!.error).toEqual(error);
      expect((await store.getAttempts(a!.job.id))[0]!.error).toEqual(error);
    } finally {
      await store.close();
    }
  });

  it('coordinates stores on one schema: a message reaches the other once, a live shard lease stays its owner’s', async () => {
    const now = Date.now();
    const clock = () => now;
    const one = (await openStore(URL, { clock })) as PostgresStore;
    const two = (await openStore(URL, { clock })) as PostgresStore;
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
      await one.claimShards(a, [], 10_000);
      await two.claimShards(b, [], 10_000);
    } finally {
      unsubscribe();
      await one.close();
      await two.close();
    }
  });

  it('advances a workflow once per step when four stores complete its sibling steps at once', async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(URL)));
    try {
      const queue = queueName();
      const owner = `wf-${randomBytes(4).toString('hex')}`;
      const now = Date.now();
      const id = newJobId(now);
      const middle = Array.from({ length: 100 }, (_, i) => `m${i}`);
      const defs: [string, string[]][] = [
        ['root', []],
        ...middle.map((m): [string, string[]] => [m, ['root']]),
        ['join', middle],
      ];
      const steps = defs.map(([step, needs]) => {
        const job = newJob(queue, { owner, maxAttempts: 1 });
        return { step, needs, job: { ...job, workflow: { id, step, needs } } };
      });
      const jobOf = Object.fromEntries(steps.map((s) => [s.step, s.job.id]));
      const base = { id, owner, name: null, maxSteps: 10_000, idempotencyKey: null, createdAt: now };
      await stores[0]!.createWorkflow({ ...base, onFailure: 'fail-fast', steps });
      const run = async (ids: string[]) => {
        const assigned = await stores[0]!.assign(
          ids.map((jobId) => ({ jobId, agentId: 'agent-1', gpus: [] })),
          60_000,
        );
        await stores[0]!.start(
          assigned.map((a) => ({ jobId: a.job.id, leaseToken: a.leaseToken })),
          60_000,
        );
        return assigned;
      };
      const [root] = await run([jobOf.root!]);
      await stores[0]!.complete([
        { jobId: root!.job.id, leaseToken: root!.leaseToken, outcome: 'succeeded', result: 0 },
      ]);
      const assigned = await run(middle.map((m) => jobOf[m]!));
      // One completion per call, spread over the four stores, all in flight at once.
      const results = await Promise.all(
        assigned.map((a, i) =>
          stores[i % 4]!.complete([
            { jobId: a.job.id, leaseToken: a.leaseToken, outcome: 'succeeded', result: a.job.workflow?.step },
          ]),
        ),
      );
      expect(results.flat().every((r) => r.ok)).toBe(true);
      const join = await stores[1]!.getJob(jobOf.join!);
      expect(join?.state).toBe('queued');
      expect(join?.inputs).toEqual(Object.fromEntries(middle.map((m) => [m, m])));
      expect((await stores[2]!.getWorkflow(id))?.counts).toEqual({
        steps: 102,
        succeeded: 101,
        failed: 0,
        cancelled: 0,
        skipped: 0,
      });
      expect((await stores[3]!.queueStats()).find((q) => q.queue === queue)?.counts).toMatchObject({
        blocked: 0,
        queued: 1,
        succeeded: 101,
      });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('reports itself as the postgres backend, answers ping, and closes idempotently', async () => {
    const store: Store = await openStore(`${URL}&pool_size=2`);
    expect(store.backend).toBe('postgres');
    await store.ping();
    await store.close();
    await store.close();
  });
});
