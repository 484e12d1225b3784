import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
import { MIGRATIONS } from '../src/sqlite/migrations.js';

/**
 * How each backend stores route expiry: routes from before it read as forever, and expired
 * routes leave the table or hash rather than piling up (the contract can only say they are not
 * listed; this looks underneath).
 */
const dir = mkdtempSync(join(tmpdir(), 'baton-routes-'));
const run = randomBytes(4).toString('hex');
const PG_URL = 'postgres://root@127.0.0.1:5432/test';
const REDIS = { host: '127.0.0.1', port: 6379 };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_800_000_000_000;

describe('route expiry storage', () => {
  it('SQLite: a route from before migration 5 is forever; expired routes are deleted', async () => {
    const path = join(dir, 'version-4.db');
    const raw = new Database(path);
    raw.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
      raw.exec(m.sql);
      raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    raw.prepare("INSERT INTO task_routes (task, queue, registered_at) VALUES ('old', 'q', 1)").run();
    raw.close();

    let now = T0;
    const store = await openStore(`sqlite:${path}`, { clock: () => now });
    try {
      expect(await store.taskRoutes()).toEqual([{ task: 'old', queue: 'q', expiresAt: null }]);
      await store.registerTasks([{ task: 'old', queue: 'q' }], 1000);
      await store.registerTasks(
        Array.from({ length: 5 }, (_, i) => ({ task: `brief-${i}`, queue: 'q' })),
        1000,
      );
      now += 1000;
      await store.registerTasks([{ task: 'fresh', queue: 'q' }], 1000);
      expect((await store.taskRoutes()).map((r) => [r.task, r.expiresAt])).toEqual([
        ['fresh', now + 1000],
        ['old', null],
      ]);
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.prepare('SELECT task FROM task_routes ORDER BY task').all()).toEqual([
        { task: 'fresh' },
        { task: 'old' },
      ]);
    } finally {
      check.close();
    }
  });

  it('PostgreSQL: a route without expiry (as migration 5 leaves old ones) is forever; expired routes are deleted', async () => {
    const schema = `routes_${run}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    let now = T0;
    const store = await openStore(`${PG_URL}?schema=${schema}`, { clock: () => now });
    try {
      await admin.query(`INSERT INTO ${schema}.task_routes (task, queue, registered_at) VALUES ('old', 'q', 1)`);
      expect(await store.taskRoutes()).toEqual([{ task: 'old', queue: 'q', expiresAt: null }]);
      await store.registerTasks([{ task: 'old', queue: 'q' }], 1000);
      await store.registerTasks(
        Array.from({ length: 5 }, (_, i) => ({ task: `brief-${i}`, queue: 'q' })),
        1000,
      );
      now += 1000;
      await store.registerTasks([{ task: 'fresh', queue: 'q' }], 1000);
      const { rows } = await admin.query(`SELECT task FROM ${schema}.task_routes ORDER BY task`);
      expect(rows).toEqual([{ task: 'fresh' }, { task: 'old' }]);
    } finally {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('Redis: a registration time written by older code reads as forever; expired fields are deleted', async () => {
    const prefix = `baton-routes-${run}`;
    const redis = new Redis(REDIS);
    let now = T0;
    const store = await openStore(`redis://${REDIS.host}:${REDIS.port}?prefix=${prefix}`, { clock: () => now });
    const key = `{${prefix}}:routes`;
    try {
      await redis.hset(key, 'old\u0000q', '1700000000000');
      expect(await store.taskRoutes()).toEqual([{ task: 'old', queue: 'q', expiresAt: null }]);
      await store.registerTasks([{ task: 'old', queue: 'q' }], 1000);
      await store.registerTasks(
        Array.from({ length: 5 }, (_, i) => ({ task: `brief-${i}`, queue: 'q' })),
        1000,
      );
      expect(await redis.hget(key, 'brief-0\u0000q')).toBe(`exp:${now + 1000}`);
      now += 1000;
      await store.registerTasks([{ task: 'fresh', queue: 'q' }]);
      expect(await store.taskRoutes()).toEqual([
        { task: 'fresh', queue: 'q', expiresAt: null },
        { task: 'old', queue: 'q', expiresAt: null },
      ]);
      expect(await redis.hgetall(key)).toEqual({ 'fresh\u0000q': 'inf', 'old\u0000q': '1700000000000' });
    } finally {
      await store.close();
      const keys = await redis.keys(`{${prefix}}:*`);
      if (keys.length > 0) await redis.unlink(...keys);
      await redis.quit();
    }
  });
});
