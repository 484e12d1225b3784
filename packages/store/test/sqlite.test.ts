import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SchemaTooNewError, ValidationError, newJobId } from '@baton/core';
import type { BatonError, NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import { MIGRATIONS } from '../src/sqlite/migrations.js';
import { defineStoreConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-store-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

defineStoreConformance('sqlite::memory:', async () => ({
  open: (options) => openStore('sqlite::memory:', options),
  drop: async () => {},
}));
defineStoreConformance('sqlite file', async () => {
  const file = join(dir, `fresh-${files++}.db`);
  return {
    open: (options) => openStore(`sqlite:${file}`, options),
    drop: async () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
    },
  };
});

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue: 'q',
    task: 't',
    owner: 'o',
    payload: { keep: 1 },
    priority: 'low',
    priorityLevel: 2,
    resources: { slots: 2, cpu: 0.5, memoryMb: 0, gpus: 0 },
    constraints: { tags: [] },
    maxAttempts: 2,
    backoffMs: 10,
    timeoutMs: 500,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
    ...overrides,
  };
}

describe('SQLite specifics', () => {
  it('keeps jobs, attempts and routes across close and reopen of the file', async () => {
    const url = `sqlite:${join(dir, 'reopen.db')}`;
    const first = await openStore(url);
    expect(first.backend).toBe('sqlite');
    const [done, waiting, keyed] = await first.enqueue([newJob(), newJob(), newJob({ idempotencyKey: 'k' })]);
    const [a] = await first.assign([{ jobId: done!.job.id, agentId: 'agent-1', gpus: [] }], 60_000);
    await first.complete([{ jobId: a!.job.id, leaseToken: a!.leaseToken, outcome: 'succeeded', result: [1, 2] }]);
    await first.registerTasks([{ task: 't', queue: 'q' }]);
    const before = await Promise.all([done, waiting, keyed].map((r) => first.getJob(r!.job.id)));
    const attemptsBefore = await first.getAttempts(done!.job.id);
    await first.close();
    await first.close(); // idempotent

    const second = await openStore(url);
    try {
      expect(await Promise.all([done, waiting, keyed].map((r) => second.getJob(r!.job.id)))).toEqual(before);
      expect(before[0]).toMatchObject({ state: 'succeeded', result: [1, 2] });
      expect(before[1]).toMatchObject({ state: 'queued', payload: { keep: 1 }, priority: 'low', timeoutMs: 500 });
      expect(await second.getAttempts(done!.job.id)).toEqual(attemptsBefore);
      expect(attemptsBefore).toHaveLength(1);
      expect(await second.taskRoutes()).toEqual([{ task: 't', queue: 'q', expiresAt: null }]);
      // The idempotency key survives too.
      const [again] = await second.enqueue([newJob({ idempotencyKey: 'k' })]);
      expect(again).toMatchObject({ created: false, job: { id: keyed!.job.id } });
      await second.ping();
    } finally {
      await second.close();
    }
  });

  it('keeps separate in-memory stores apart', async () => {
    const one = await openStore('sqlite::memory:');
    const two = await openStore('sqlite::memory:');
    try {
      const [r] = await one.enqueue([newJob()]);
      expect(await one.getJob(r!.job.id)).not.toBeNull();
      expect(await two.getJob(r!.job.id)).toBeNull();
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('refuses a schema newer than it knows, and leaves the file untouched', async () => {
    const path = join(dir, 'newer.db');
    const store = await openStore(`sqlite:${path}`);
    const [r] = await store.enqueue([newJob()]);
    await store.close();
    const raw = new Database(path);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('from the future');
    raw.close();

    const err = await openStore(`sqlite:${path}`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as BatonError).code).toBe('SCHEMA_TOO_NEW');
    expect((err as Error).message).toMatch(/999/);

    const check = new Database(path, { readonly: true });
    try {
      const versions = check.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
      expect(versions.at(-1)).toEqual({ version: 999 });
      expect(check.prepare('SELECT id FROM jobs').all()).toEqual([{ id: r!.job.id }]);
    } finally {
      check.close();
    }
  });

  it('refuses store URLs it cannot open with INVALID_STORE_URL', async () => {
    for (const url of ['sqlite:', 'mysql://x', 'nonsense']) {
      const err = await openStore(url).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, url).toBeInstanceOf(ValidationError);
      expect((err as BatonError).code, url).toBe('INVALID_STORE_URL');
      expect((err as BatonError).httpStatus, url).toBe(400);
    }
  });
});

describe('SQLite migrations', () => {
  it('migrates a version 1 database: old jobs read back with default resources, constraints and GPUs', async () => {
    const path = join(dir, 'version-1.db');
    const v1 = MIGRATIONS.find((m) => m.version === 1)!;
    const raw = new Database(path);
    raw.exec(`CREATE TABLE schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    raw.exec(v1.sql);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, ?, 0)').run(v1.name);
    const now = Date.now();
    const id = newJobId(now);
    // A job written by version 1's code: resources hold slots only.
    raw
      .prepare(
        `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources,
          max_attempts, backoff_ms, timeout_ms, run_at, idempotency_key, created_at, updated_at)
        VALUES (?, 'q-old', 't-old', 'o', '{"keep":1}', 'queued', 1, 0, '{"slots":3}', 2, 10, NULL, ?, NULL, ?, ?)`,
      )
      .run(id, now, now, now);
    // And one that finished under version 1, with a key: migration 3 indexes it for retention.
    const doneId = newJobId(now - 1000);
    raw
      .prepare(
        `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources,
          max_attempts, backoff_ms, timeout_ms, run_at, idempotency_key, created_at, updated_at, finished_at)
        VALUES (?, 'q-old', 't-old', 'o', '{}', 'succeeded', 1, 0, '{"slots":1}', 2, 10, NULL, ?, 'k-old', ?, ?, ?)`,
      )
      .run(doneId, now - 1000, now - 1000, now - 500, now - 500);
    raw.close();

    const store = await openStore(`sqlite:${path}`);
    try {
      const job = await store.getJob(id);
      expect(job).toMatchObject({
        id,
        state: 'queued',
        payload: { keep: 1 },
        resources: { slots: 3, cpu: 0, memoryMb: 0, gpus: 0 },
        constraints: { tags: [] },
        gpus: [],
      });
      expect(await store.pending([{ queue: 'q-old', limit: 5 }])).toEqual([
        {
          id,
          queue: 'q-old',
          task: 't-old',
          owner: 'o',
          priority: 'normal',
          priorityLevel: 0,
          resources: { slots: 3, cpu: 0, memoryMb: 0, gpus: 0 },
          constraints: { tags: [] },
          avoidAgentId: null,
          timeLimitMs: null,
        },
      ]);
      // The migrated job takes part in everything version 2 added.
      const [a] = await store.assign([{ jobId: id, agentId: 'agent-1', gpus: [0] }], 60_000);
      expect(a!.job).toMatchObject({ resources: { slots: 3, cpu: 0, memoryMb: 0, gpus: 0 }, gpus: [0] });
      await store.appendLogs([{ jobId: id, attempt: 1, stream: 'stdout', data: 'hello' }]);
      expect((await store.getLogs(id)).map((c) => c.data)).toEqual(['hello']);
      expect(
        await store.release([
          { jobId: id, leaseToken: a!.leaseToken, error: { code: 'X', message: 'x', retryable: true } },
        ]),
      ).toEqual([{ jobId: id, ok: true, state: 'queued' }]);
      // Retention finds the job that finished before the migration, and frees its key.
      expect(await store.deleteFinished(now, 10)).toEqual({ deleted: 1 });
      expect(await store.getJob(doneId)).toBeNull();
      expect(await store.getJob(id)).toMatchObject({ state: 'queued' });
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      const versions = check.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
      expect(versions).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
      expect(versions).toContainEqual({ version: 3 }); // coordination tables
    } finally {
      check.close();
    }
  });

  it('stores a plain job’s resources as compactly as version 1 did', async () => {
    const path = join(dir, 'compact.db');
    const store = await openStore(`sqlite:${path}`);
    const [plain, big] = await store.enqueue([
      newJob({ resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 } }),
      newJob({ resources: { slots: 2, cpu: 1.5, memoryMb: 0, gpus: 4 }, constraints: { tags: ['a'] } }),
    ]);
    await store.close();
    const check = new Database(path, { readonly: true });
    try {
      const row = (jobId: string) =>
        check.prepare('SELECT resources, constraints, gpus FROM jobs WHERE id = ?').get(jobId) as Record<
          string,
          string
        >;
      expect(row(plain!.job.id)).toEqual({ resources: '{"slots":1}', constraints: '{"tags":[]}', gpus: '[]' });
      expect(row(big!.job.id)).toEqual({
        resources: '{"slots":2,"cpu":1.5,"gpus":4}',
        constraints: '{"tags":["a"]}',
        gpus: '[]',
      });
    } finally {
      check.close();
    }
  });

  it('refuses a logTailBytes that is not a positive integer', async () => {
    for (const logTailBytes of [0, -1, 1.5, Number.NaN]) {
      const err = await openStore('sqlite::memory:', { logTailBytes }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, String(logTailBytes)).toBeInstanceOf(ValidationError);
    }
  });
});

describe('SQLite checkpoints', () => {
  it('copies the WAL into the database file in the background, without SQLite auto-checkpoints', async () => {
    const path = join(dir, 'checkpoints.db');
    const store = await openStore(`sqlite:${path}`);
    try {
      const { statSync } = await import('node:fs');
      const before = statSync(path).size;
      for (let i = 0; i < 5; i++) {
        await store.enqueue(Array.from({ length: 1000 }, () => newJob({ payload: { blob: 'x'.repeat(200) } })));
      }
      // Nothing on this connection checkpoints (wal_autocheckpoint is 0), so growth of the
      // database file can only come from the checkpoint worker.
      await vi.waitFor(() => expect(statSync(path).size).toBeGreaterThan(before + 500_000), {
        timeout: 10_000,
        interval: 50,
      });
    } finally {
      await store.close();
    }
  });
});
