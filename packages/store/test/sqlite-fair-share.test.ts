import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { newJobId } from '@baton/core';
import type { JobState } from '@baton/core';
import { openStore } from '@baton/store';
import { MIGRATIONS } from '../src/sqlite/migrations.js';
import { SQL } from '../src/sqlite/statements.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-fair-share-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A database at `version`, written the way that version's code did. */
function databaseAt(path: string, version: number): Database.Database {
  const db = new Database(path);
  db.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const m of MIGRATIONS.filter((m) => m.version <= version)) {
    db.exec(m.sql);
    m.data?.(db, 0);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
  }
  return db;
}

/** The index a query is answered through, from SQLite's plan. */
function plan(db: Database.Database, sql: string, ...params: unknown[]): string {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
    .map((r) => r.detail)
    .join(' | ');
}

describe('SQLite fair share (migration 7)', () => {
  it("counts units of a version 6 database's leased jobs: GPUs, else slots (old rows hold only slots)", async () => {
    const path = join(dir, 'v6.db');
    const raw = databaseAt(path, 6);
    const insert = raw.prepare(
      `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources,
        max_attempts, backoff_ms, run_at, created_at, updated_at, lease_token, lease_expires_at)
      VALUES (?, 'q', 't', ?, 'null', ?, 1, 0, ?, 2, 0, ?, ?, ?, ?, ?)`,
    );
    const now = Date.now();
    const rows: [string, JobState, string][] = [
      ['alice', 'running', '{"slots":2}'],
      ['alice', 'assigned', '{"slots":1,"gpus":4}'],
      ['alice', 'queued', '{"slots":8}'],
      ['alice', 'queued', '{"slots":1}'],
      ['bob', 'running', '{"slots":1}'],
      ['bob', 'succeeded', '{"slots":1,"gpus":2}'],
      ['carol', 'queued', '{"slots":1,"gpus":1}'],
    ];
    let at = now - 10_000;
    const ids: string[] = [];
    for (const [owner, state, resources] of rows) {
      const id = newJobId(at++);
      ids.push(id);
      const leased = state === 'running' || state === 'assigned';
      insert.run(id, owner, state, resources, at, at, at, leased ? `tok-${id}` : null, leased ? now + 60_000 : null);
    }
    raw.close();

    const store = await openStore(`sqlite:${path}`);
    try {
      const loads = (await store.ownerLoads()).sort((a, b) => a.owner.localeCompare(b.owner));
      expect(loads).toEqual([
        { owner: 'alice', leasedJobs: 2, leasedGpus: 4, leasedUnits: 6 },
        { owner: 'bob', leasedJobs: 1, leasedGpus: 0, leasedUnits: 1 },
      ]);
      const heads = await store.pending([{ queue: 'q', limit: 1, perOwner: true }]);
      expect(heads.map((j) => [j.owner, j.id])).toEqual([
        ['alice', ids[2]],
        ['carol', ids[6]],
      ]);
      // The new triggers keep units through the next transitions.
      const [a] = await store.assign([{ jobId: ids[6]!, agentId: 'agent-1', gpus: [0] }], 60_000);
      await store.complete([{ jobId: ids[0]!, leaseToken: `tok-${ids[0]}`, outcome: 'succeeded', result: null }]);
      expect((await store.ownerLoads()).sort((x, y) => x.owner.localeCompare(y.owner))).toEqual([
        { owner: 'alice', leasedJobs: 1, leasedGpus: 4, leasedUnits: 4 },
        { owner: 'bob', leasedJobs: 1, leasedGpus: 0, leasedUnits: 1 },
        { owner: 'carol', leasedJobs: 1, leasedGpus: 1, leasedUnits: 1 },
      ]);
      expect(a?.job.id).toBe(ids[6]);
    } finally {
      await store.close();
    }
  });

  it('answers per-owner heads and owner listings through their indexes, never a scan of jobs', async () => {
    const path = join(dir, 'plans.db');
    await (await openStore(`sqlite:${path}`)).close();
    const db = new Database(path, { readonly: true });
    try {
      expect(plan(db, SQL.queuedOwners, 'q')).toContain('USING INDEX owner_counts_by_queue');
      expect(plan(db, SQL.pendingOfOwner, 'q', 'alice', 5)).toMatch(
        /USING INDEX jobs_queued_by_owner \(queue=\? AND owner=\?\)$/,
      );
      // Both end with the index's search, with no sort step after it; the plain head keeps its own index.
      expect(plan(db, SQL.pending, 'q', 5)).toMatch(/USING INDEX jobs_queued \(queue=\?\)$/);
      // listJobs (jobs.ts) with an owner, newest first, alone, with a cursor and with a state.
      const list = (where: string) => `SELECT * FROM jobs WHERE ${where} ORDER BY id DESC LIMIT ?`;
      expect(plan(db, list('owner = ?'), 'alice', 5)).toBe('SEARCH jobs USING INDEX jobs_by_owner (owner=?)');
      expect(plan(db, list('owner = ? AND id < ?'), 'alice', 'z', 5)).toBe(
        'SEARCH jobs USING INDEX jobs_by_owner (owner=? AND id<?)',
      );
      for (const state of ['queued', 'delayed', 'succeeded', 'failed', 'cancelled']) {
        expect(plan(db, list(`state = '${state}' AND owner = ?`), 'alice', 5)).toBe(
          'SEARCH jobs USING INDEX jobs_by_owner (owner=?)',
        );
      }
      // Without an owner, a state's listing keeps its own partial index.
      expect(plan(db, list(`state = 'succeeded'`), 5)).toBe('SCAN jobs USING INDEX jobs_succeeded');
    } finally {
      db.close();
    }
  });
});
