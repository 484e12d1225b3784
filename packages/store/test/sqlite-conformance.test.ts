import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import { SqliteStore, openStore } from '@baton/store';
import { defineStoreConformance } from './suite/index.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-store-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function openSqlite(path: string, options: { clock: () => number; random: () => number }) {
  const store = new SqliteStore(path, options);
  await store.init();
  return store;
}

defineStoreConformance('sqlite::memory:', (options) => openSqlite(':memory:', options));
defineStoreConformance('sqlite file', (options) => openSqlite(join(dir, `conformance-${files++}.db`), options));

describe('SQLite specifics', () => {
  it('keeps jobs across close and reopen of the file', async () => {
    const url = `sqlite:${join(dir, 'reopen.db')}`;
    const first = await openStore(url);
    const [r] = await first.enqueue([
      {
        id: '01M00000000000000000000001',
        queue: 'q',
        task: 't',
        owner: 'o',
        payload: { keep: 1 },
        priority: 'low',
        priorityLevel: 2,
        resources: { slots: 1 },
        maxAttempts: 2,
        backoffMs: 10,
        timeoutMs: null,
        runAt: 0,
        idempotencyKey: 'k',
        createdAt: 0,
      },
    ]);
    await first.close();
    await first.close(); // idempotent
    const second = await openStore(url);
    expect(await second.getJob(r!.job.id)).toMatchObject({ payload: { keep: 1 }, priority: 'low', state: 'queued' });
    await second.close();
  });

  it('refuses a schema newer than it knows', async () => {
    const path = join(dir, 'newer.db');
    await (await openStore(`sqlite:${path}`)).close();
    const raw = new Database(path);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('from the future');
    raw.close();
    const err = await openStore(`sqlite:${path}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('SCHEMA_TOO_NEW');
    expect((err as Error).message).toMatch(/version 999/);
  });

  it('refuses store URLs it cannot open, naming what works', async () => {
    for (const url of ['sqlite:', 'mysql://localhost/x', 'nonsense']) {
      const err = await openStore(url).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(BatonError);
      expect((err as BatonError).code).toBe('INVALID_STORE_URL');
      expect((err as Error).message).toMatch(/sqlite:(PATH|\.\/baton\.db)/);
    }
  });
});
