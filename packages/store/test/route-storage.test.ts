import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
import { MIGRATIONS as PG_MIGRATIONS } from '../src/postgres/migrations.js';
import { MIGRATIONS } from '../src/sqlite/migrations.js';

/**
 * How each backend stores route expiry: routes from before it live one more hour after the
 * upgrade (so live agents renew theirs and departed agents' go), and expired routes leave the
 * table or hash rather than piling up (the contract can only say they are not listed; this
 * looks underneath).
 */
const dir = mkdtempSync(join(tmpdir(), 'baton-routes-'));
const run = randomBytes(4).toString('hex');
const PG_URL = 'postgres://root@127.0.0.1:5432/test';
const REDIS = { host: '127.0.0.1', port: 6379 };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;

describe('route expiry storage', () => {
  it('SQLite: migration 5 gives routes from before an hour on the store clock; expired routes are deleted', async () => {
    const path = join(dir, 'version-4.db');
    const raw = new Database(path);
    raw.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
      raw.exec(m.sql);
      raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
    }
    raw.prepare("INSERT INTO task_routes (task, queue, registered_at) VALUES ('old', 'q', 1), ('gone', 'q', 1)").run();
    raw.close();

    let now = T0;
    const store = await openStore(`sqlite:${path}`, { clock: () => now });
    try {
      expect(await store.taskRoutes()).toEqual([
        { task: 'gone', queue: 'q', expiresAt: T0 + HOUR },
        { task: 'old', queue: 'q', expiresAt: T0 + HOUR },
      ]);
      // A live agent's server renews its route: it lives on; the departed agent's does not.
      await store.registerTasks([{ task: 'old', queue: 'q' }], 2 * HOUR);
      await store.registerTasks(
        Array.from({ length: 5 }, (_, i) => ({ task: `brief-${i}`, queue: 'q' })),
        1000,
      );
      now += HOUR;
      await store.registerTasks([{ task: 'fresh', queue: 'q' }], 1000);
      expect((await store.taskRoutes()).map((r) => [r.task, r.expiresAt])).toEqual([
        ['fresh', now + 1000],
        ['old', T0 + 2 * HOUR],
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

  it('PostgreSQL: migration 5 gives routes from before an hour on the server clock; expired routes are deleted', async () => {
    const schema = `routes_${run}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      // A version 4 schema with two routes, as a store before route expiry left it.
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.query(`SET search_path TO ${schema}`);
      await admin.query(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      for (const m of PG_MIGRATIONS.filter((m) => m.version <= 4)) {
        await admin.query(m.sql);
        await admin.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [
          m.version,
          m.name,
        ]);
      }
      await admin.query(
        "INSERT INTO task_routes (task, queue, registered_at) VALUES ('old', 'q', 1), ('gone', 'q', 1)",
      );
      await admin.query('SET search_path TO public');

      const before = Date.now();
      let now = before;
      const store = await openStore(`${PG_URL}?schema=${schema}`, { clock: () => now });
      const after = Date.now();
      try {
        const routes = await store.taskRoutes();
        expect(routes.map((r) => r.task)).toEqual(['gone', 'old']);
        for (const r of routes) {
          // The server's clock, on this machine: within the open call, give or take rounding.
          expect(r.expiresAt).toBeGreaterThanOrEqual(before + HOUR - 1000);
          expect(r.expiresAt).toBeLessThanOrEqual(after + HOUR + 1000);
        }
        await store.registerTasks([{ task: 'old', queue: 'q' }], 2 * HOUR);
        await store.registerTasks(
          Array.from({ length: 5 }, (_, i) => ({ task: `brief-${i}`, queue: 'q' })),
          1000,
        );
        now = after + HOUR + 1000;
        await store.registerTasks([{ task: 'fresh', queue: 'q' }], 1000);
        expect((await store.taskRoutes()).map((r) => [r.task, r.expiresAt])).toEqual([
          ['fresh', now + 1000],
          ['old', before + 2 * HOUR],
        ]);
        const { rows } = await admin.query(`SELECT task FROM ${schema}.task_routes ORDER BY task`);
        expect(rows).toEqual([{ task: 'fresh' }, { task: 'old' }]);
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('Redis: a registration time written by older code lives an hour after it; expired fields are deleted', async () => {
    const prefix = `baton-routes-${run}`;
    const redis = new Redis(REDIS);
    let now = T0;
    const store = await openStore(`redis://${REDIS.host}:${REDIS.port}?prefix=${prefix}`, { clock: () => now });
    const key = `{${prefix}}:routes`;
    try {
      await redis.hset(key, 'old\u0000q', String(T0 - 1000), 'gone\u0000q', String(T0 - HOUR));
      expect(await store.taskRoutes()).toEqual([{ task: 'old', queue: 'q', expiresAt: T0 - 1000 + HOUR }]);
      expect((await store.queueStats()).map((s) => s.queue)).toEqual(['q']);
      // Registered again with a shorter ttl: keeps its later expiry, now written in the new form.
      await store.registerTasks([{ task: 'old', queue: 'q' }], 1000);
      expect(await redis.hget(key, 'old\u0000q')).toBe(`exp:${T0 - 1000 + HOUR}`);
      await store.registerTasks(
        Array.from({ length: 5 }, (_, i) => ({ task: `brief-${i}`, queue: 'q' })),
        1000,
      );
      expect(await redis.hget(key, 'brief-0\u0000q')).toBe(`exp:${now + 1000}`);
      now += 1000;
      await store.registerTasks([{ task: 'fresh', queue: 'q' }]);
      expect(await store.taskRoutes()).toEqual([
        { task: 'fresh', queue: 'q', expiresAt: null },
        { task: 'old', queue: 'q', expiresAt: T0 - 1000 + HOUR },
      ]);
      expect(await redis.hgetall(key)).toEqual({ 'fresh\u0000q': 'inf', 'old\u0000q': `exp:${T0 - 1000 + HOUR}` });
      // An old-format value that is still live is rewritten when a ttl registration extends it.
      await redis.hset(key, 'older\u0000q', String(now));
      await store.registerTasks([{ task: 'older', queue: 'q' }], 2 * HOUR);
      expect(await redis.hget(key, 'older\u0000q')).toBe(`exp:${now + 2 * HOUR}`);
    } finally {
      await store.close();
      const keys = await redis.keys(`{${prefix}}:*`);
      if (keys.length > 0) await redis.unlink(...keys);
      await redis.quit();
    }
  });
});
