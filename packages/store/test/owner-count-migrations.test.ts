import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { JOB_STATES, newJobId } from '@baton/core';
import type { JobState } from '@baton/core';
import { openStore } from '@baton/store';
import type { OwnerUsage, Store } from '@baton/store';
import { MIGRATIONS as PG_MIGRATIONS } from '../src/postgres/migrations.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../src/sqlite/migrations.js';

/**
 * Migration 6 (SQLite and PostgreSQL): a store written by version 5, with jobs of several
 * owners in every state, some asking for GPUs and some from before resources had GPUs, reads
 * exact owner usage after the upgrade, and keeps it exact through the next transitions.
 * Migration 7 (PostgreSQL): a schema written by version 6 reads exact owner loads in units.
 */

/** The jobs version 5's code left behind: [owner, queue, state, how many, GPUs each (null: not stored)]. */
const OLD_JOBS: [string, string, JobState, number, number | null][] = [
  ['alice', 'q-a', 'queued', 2, 2],
  ['alice', 'q-a', 'queued', 1, null],
  ['alice', 'q-a', 'delayed', 1, 0],
  ['alice', 'q-a', 'assigned', 1, 4],
  ['alice', 'q-a', 'running', 2, 1],
  ['alice', 'q-a', 'running', 1, null],
  ['alice', 'q-a', 'succeeded', 3, 2],
  ['alice', 'q-b', 'failed', 1, 0],
  ['bob', 'q-a', 'running', 1, 8],
  ['bob', 'q-b', 'cancelled', 2, null],
];

const LEASED: ReadonlySet<JobState> = new Set(['assigned', 'running']);

/** What ownerUsage must answer for the old jobs of `owner`. */
function expectedUsage(owner: string): OwnerUsage {
  const mine = OLD_JOBS.filter(([o]) => o === owner);
  const queues = [...new Set(mine.map(([, q]) => q))].sort().map((queue) => {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const [, q, state, n] of mine) if (q === queue) counts[state] += n;
    return { queue, counts };
  });
  const sum = (rows: typeof mine, of: (r: (typeof mine)[number]) => number) => rows.reduce((t, r) => t + of(r), 0);
  const leased = mine.filter(([, , state]) => LEASED.has(state));
  return {
    owner,
    queues,
    leasedJobs: sum(leased, ([, , , n]) => n),
    leasedGpus: sum(leased, ([, , , n, gpus]) => n * (gpus ?? 0)),
    waitingJobs: sum(
      mine.filter(([, , state]) => state === 'queued' || state === 'delayed'),
      ([, , , n]) => n,
    ),
  };
}

interface OldRow {
  id: string;
  owner: string;
  queue: string;
  state: JobState;
  resources: string;
  at: number;
}

/** Rows for version 5's jobs table, oldest first; the queued 2-GPU jobs come first. */
function oldRows(now: number): OldRow[] {
  const rows: OldRow[] = [];
  let at = now - 60_000;
  for (const [owner, queue, state, n, gpus] of OLD_JOBS) {
    const resources = gpus === null ? '{"slots":1}' : JSON.stringify({ slots: 1, cpu: 0, memoryMb: 0, gpus });
    for (let i = 0; i < n; i++, at += 1000) rows.push({ id: newJobId(at), owner, queue, state, resources, at });
  }
  return rows;
}

/** Checks the upgraded store's usage, then moves jobs and the owners' usage follows. */
async function expectUpgraded(store: Store, now: number): Promise<void> {
  const alice = expectedUsage('alice');
  expect(await store.ownerUsage('alice')).toEqual(alice);
  expect(await store.ownerUsage('bob')).toEqual(expectedUsage('bob'));
  expect(await store.ownerUsage('carol')).toEqual({
    owner: 'carol',
    queues: [],
    leasedJobs: 0,
    leasedGpus: 0,
    waitingJobs: 0,
  });

  // alice's first queued job asks for 2 GPUs: assigned, it counts as leased with them.
  const [head] = await store.pending([{ queue: 'q-a', limit: 1 }]);
  expect(head?.resources.gpus).toBe(2);
  const [lease] = await store.assign([{ jobId: head!.id, agentId: 'agent-1', gpus: [0, 1] }], 60_000);
  const leased = await store.ownerUsage('alice');
  expect(leased).toMatchObject({
    leasedJobs: alice.leasedJobs + 1,
    leasedGpus: alice.leasedGpus + 2,
    waitingJobs: alice.waitingJobs - 1,
  });
  await store.complete([{ jobId: head!.id, leaseToken: lease!.leaseToken, outcome: 'succeeded', result: null }]);
  expect(await store.ownerUsage('alice')).toMatchObject({
    leasedJobs: alice.leasedJobs,
    leasedGpus: alice.leasedGpus,
    waitingJobs: alice.waitingJobs - 1,
  });
  // The old finished jobs (alice's 3 succeeded, 1 failed; bob's 2 cancelled) go: so do their counts.
  expect(await store.deleteFinished(now, 100)).toEqual({ deleted: 6 });
  const after = await store.ownerUsage('alice');
  expect(after.queues.map((q) => q.queue)).toEqual(['q-a']);
  expect(after.queues[0]!.counts).toMatchObject({ queued: 2, succeeded: 1, failed: 0 });
  expect((await store.ownerUsage('bob')).queues.map((q) => q.queue)).toEqual(['q-a']);
}

describe('SQLite migration 6: owner counts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-owner-counts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts the jobs a version 5 database holds per owner, then keeps counting', async () => {
    const path = join(dir, 'version-5.db');
    const now = Date.now();
    const raw = new Database(path);
    raw.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 5)) {
      raw.exec(m.sql);
      m.data?.(raw, now);
      raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const insert = raw.prepare(
      `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources,
        max_attempts, backoff_ms, run_at, created_at, updated_at, finished_at, lease_token, lease_expires_at)
      VALUES (?, ?, 't', ?, 'null', ?, 1, 0, ?, 2, 0, ?, ?, ?, ?, ?, ?)`,
    );
    for (const r of oldRows(now)) {
      const final = r.state === 'succeeded' || r.state === 'failed' || r.state === 'cancelled';
      const leased = LEASED.has(r.state);
      const runAt = r.state === 'delayed' ? now + 3_600_000 : r.at;
      const lease = leased ? [`lease-${r.id}`, now + 3_600_000] : [null, null];
      insert.run(r.id, r.queue, r.owner, r.state, r.resources, runAt, r.at, r.at, final ? r.at : null, ...lease);
    }
    raw.close();

    const store = await openStore(`sqlite:${path}`, { clock: () => now });
    try {
      await expectUpgraded(store, now);
    } finally {
      await store.close();
    }
  });
});

const PG_SERVER = process.env.BATON_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

/**
 * A schema as version `upTo`'s code left it, holding the old jobs (plus `extra` rows of the
 * same shape), written in one transaction by a plain client, as that version's triggers count.
 */
async function oldPostgresSchema(schema: string, upTo: number, rows: OldRow[], now: number): Promise<string> {
  const admin = new pg.Client({ connectionString: PG_SERVER });
  await admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`SET LOCAL search_path TO "${schema}"`);
    await admin.query(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    for (const m of PG_MIGRATIONS.filter((m) => m.version <= upTo)) {
      await admin.query(m.sql);
      await admin.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [
        m.version,
        m.name,
      ]);
    }
    await admin.query(
      `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources, constraints,
        max_attempts, backoff_ms, run_at, created_at, updated_at, finished_at, lease_token, lease_expires_at,
        attempts, agent_id, assigned_at)
      SELECT id, queue, 't', owner, 'null', state, 1, 0, resources::jsonb, '{"tags":[]}', 2, 0,
        CASE WHEN state = 'delayed' THEN $7::bigint + 3600000 ELSE at END, at, at,
        CASE WHEN state IN ('succeeded', 'failed', 'cancelled') THEN at END,
        CASE WHEN state IN ('assigned', 'running') THEN 'lease-' || id END,
        CASE WHEN state IN ('assigned', 'running') THEN $7::bigint + 3600000 END,
        CASE WHEN state IN ('queued', 'delayed') THEN 0 ELSE 1 END,
        CASE WHEN state IN ('assigned', 'running') THEN 'agent-old' END,
        CASE WHEN state IN ('assigned', 'running') THEN at END
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
        AS r(id, owner, queue, state, resources, at)`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.owner),
        rows.map((r) => r.queue),
        rows.map((r) => r.state),
        rows.map((r) => r.resources),
        rows.map((r) => r.at),
        now,
      ],
    );
    await admin.query('COMMIT');
  } finally {
    await admin.end();
  }
  return `${PG_SERVER}${PG_SERVER.includes('?') ? '&' : '?'}schema=${schema}`;
}

async function dropSchemas(schemas: string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_SERVER });
  await admin.connect();
  try {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL migration 6: owner counts', () => {
  const schema = `baton_test_owner_counts_${randomBytes(5).toString('hex')}`;
  afterAll(() => dropSchemas([schema]));

  it('counts the jobs a version 5 schema holds per owner, then keeps counting', async () => {
    const now = Date.now();
    const url = await oldPostgresSchema(schema, 5, oldRows(now), now);
    const store = await openStore(url, { clock: () => now });
    try {
      await expectUpgraded(store, now);
    } finally {
      await store.close();
    }
  });
});

describe('PostgreSQL migration 7: owner units', () => {
  const schema = `baton_test_owner_units_${randomBytes(5).toString('hex')}`;
  afterAll(() => dropSchemas([schema]));

  it('counts the units (GPUs, else slots) of the leased jobs a version 6 schema holds, then keeps counting', async () => {
    const now = Date.now();
    // carol's running jobs take 3 slots and no GPU: 3 units each.
    const carol: OldRow[] = [0, 1].map((i) => ({
      id: newJobId(now - 1000 + i),
      owner: 'carol',
      queue: 'q-a',
      state: 'running',
      resources: JSON.stringify({ slots: 3, cpu: 0, memoryMb: 0, gpus: 0 }),
      at: now - 1000 + i,
    }));
    const url = await oldPostgresSchema(schema, 6, [...oldRows(now), ...carol], now);
    const store = await openStore(url, { clock: () => now });
    const loads = async () => [...(await store.ownerLoads())].sort((a, b) => a.owner.localeCompare(b.owner));
    try {
      // alice: one assigned job of 4 GPUs, two running of 1, one running of a slot and no GPUs stored.
      const before = [
        { owner: 'alice', leasedJobs: 4, leasedGpus: 6, leasedUnits: 7 },
        { owner: 'bob', leasedJobs: 1, leasedGpus: 8, leasedUnits: 8 },
        { owner: 'carol', leasedJobs: 2, leasedGpus: 0, leasedUnits: 6 },
      ];
      expect(await loads()).toEqual(before);

      // alice's first queued job asks for 2 GPUs: leased, her units grow by 2, and go back when it ends.
      const heads = await store.pending([{ queue: 'q-a', limit: 1, perOwner: true }]);
      expect(heads.map((j) => j.owner)).toEqual(['alice']);
      const [lease] = await store.assign([{ jobId: heads[0]!.id, agentId: 'agent-1', gpus: [0, 1] }], 60_000);
      expect((await loads())[0]).toEqual({ owner: 'alice', leasedJobs: 5, leasedGpus: 8, leasedUnits: 9 });
      await store.complete([
        { jobId: heads[0]!.id, leaseToken: lease!.leaseToken, outcome: 'succeeded', result: null },
      ]);
      expect(await loads()).toEqual(before);

      // A preempted job of carol's leaves her load, waits again, and keeps its attempts.
      const victim = carol[0]!.id;
      const [preempted] = await store.preempt([{ jobId: victim, leaseToken: `lease-${victim}`, message: 'make room' }]);
      expect(preempted).toEqual({ jobId: victim, ok: true, state: 'queued' });
      expect((await loads())[2]).toEqual({ owner: 'carol', leasedJobs: 1, leasedGpus: 0, leasedUnits: 3 });
      expect(await store.getJob(victim)).toMatchObject({ state: 'queued', attempts: 1, maxAttempts: 3 });
      const waiting = await store.pending([{ queue: 'q-a', limit: 5, perOwner: true }]);
      expect(waiting.filter((j) => j.owner === 'carol').map((j) => j.id)).toEqual([victim]);
    } finally {
      await store.close();
    }
  });
});
