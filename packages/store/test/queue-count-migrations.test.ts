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
import type { QueueStats, Store } from '@baton/store';
import { MIGRATIONS as PG_MIGRATIONS } from '../src/postgres/migrations.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../src/sqlite/migrations.js';

/**
 * Migration 4 (SQLite and PostgreSQL): a store written by version 3, with jobs in every state,
 * reads exact queue counts after the upgrade, and keeps them exact through the next transitions.
 */

/** The jobs version 3's code left behind: [queue, state, how many]. */
const OLD_JOBS: [string, JobState, number][] = [
  ['q-a', 'queued', 3],
  ['q-a', 'delayed', 1],
  ['q-a', 'running', 2],
  ['q-a', 'succeeded', 4],
  ['q-a', 'failed', 1],
  ['q-b', 'queued', 2],
  ['q-b', 'cancelled', 1],
];

/** The earliest queued job was created this long before the upgrade. */
const OLDEST_MS = 60_000;

const counts = (queue: string): Record<JobState, number> => ({
  ...(Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>),
  ...Object.fromEntries(OLD_JOBS.filter(([q]) => q === queue).map(([, state, n]) => [state, n])),
});

/** Rows for version 3's jobs table: (id, queue, state, run_at = created_at), oldest first. */
function oldRows(now: number): [string, string, JobState, number][] {
  const rows: [string, string, JobState, number][] = [];
  let at = now - OLDEST_MS;
  for (const [queue, state, n] of OLD_JOBS) {
    for (let i = 0; i < n; i++, at += 1000) rows.push([newJobId(at), queue, state, at]);
  }
  return rows;
}

/** Checks the upgraded store's stats, then moves a job and a queue's counts follow. */
async function expectUpgraded(store: Store, now: number): Promise<void> {
  const stats = (await store.queueStats()).filter((s) => s.queue.startsWith('q-'));
  expect(stats).toEqual<QueueStats[]>([
    { queue: 'q-a', counts: counts('q-a'), oldestQueuedAgeMs: OLDEST_MS },
    // q-b's first queued job was written after q-a's 11 jobs.
    { queue: 'q-b', counts: counts('q-b'), oldestQueuedAgeMs: OLDEST_MS - 11_000 },
  ]);
  const [head] = await store.pending([{ queue: 'q-a', limit: 1 }]);
  const [lease] = await store.assign([{ jobId: head!.id, agentId: 'agent-1', gpus: [] }], 60_000);
  await store.complete([{ jobId: head!.id, leaseToken: lease!.leaseToken, outcome: 'succeeded', result: null }]);
  expect(await store.deleteFinished(now, 100, 'succeeded')).toEqual({ deleted: 4 });
  const after = (await store.queueStats()).find((s) => s.queue === 'q-a');
  expect(after?.counts).toEqual({ ...counts('q-a'), queued: 2, succeeded: 1 });
  expect(after?.oldestQueuedAgeMs).toBe(OLDEST_MS - 1000);
}

describe('SQLite migration 4: queue counts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-counts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts the jobs a version 3 database holds, then keeps counting', async () => {
    const path = join(dir, 'version-3.db');
    const now = Date.now();
    const raw = new Database(path);
    raw.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 3)) {
      raw.exec(m.sql);
      raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const insert = raw.prepare(
      `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources,
        max_attempts, backoff_ms, run_at, created_at, updated_at, finished_at, lease_token)
      VALUES (?, ?, 't', 'o', 'null', ?, 1, 0, '{"slots":1}', 2, 0, ?, ?, ?, ?, ?)`,
    );
    for (const [id, queue, state, at] of oldRows(now)) {
      const final = state === 'succeeded' || state === 'failed' || state === 'cancelled';
      insert.run(id, queue, state, at, at, at, final ? at : null, state === 'running' ? `lease-${id}` : null);
    }
    raw.close();

    const store = await openStore(`sqlite:${path}`, { clock: () => now });
    try {
      await expectUpgraded(store, now);
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({
        v: SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version,
      });
    } finally {
      check.close();
    }
  });
});

describe('PostgreSQL migration 4: queue counts', () => {
  const server = process.env.BATON_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
  const schema = `baton_test_counts_${randomBytes(5).toString('hex')}`;
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    try {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await admin.end();
    }
  });

  it('counts the jobs a version 3 schema holds, then keeps counting', async () => {
    const now = Date.now();
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    try {
      await admin.query('BEGIN');
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await admin.query(`SET LOCAL search_path TO "${schema}"`);
      await admin.query(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      for (const m of PG_MIGRATIONS.filter((m) => m.version <= 3)) {
        await admin.query(m.sql);
        await admin.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [
          m.version,
          m.name,
        ]);
      }
      const rows = oldRows(now);
      await admin.query(
        `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources, constraints,
          max_attempts, backoff_ms, run_at, created_at, updated_at, finished_at, lease_token)
        SELECT id, queue, 't', 'o', 'null', state, 1, 0, '{"slots":1}', '{"tags":[]}', 2, 0, at, at, at,
          CASE WHEN state IN ('succeeded', 'failed', 'cancelled') THEN at END,
          CASE WHEN state = 'running' THEN 'lease-' || id END
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS r(id, queue, state, at)`,
        [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
      );
      await admin.query('COMMIT');
    } finally {
      await admin.end();
    }

    const store = await openStore(`${server}${server.includes('?') ? '&' : '?'}schema=${schema}`, {
      clock: () => now,
    });
    try {
      await expectUpgraded(store, now);
    } finally {
      await store.close();
    }
  });
});
