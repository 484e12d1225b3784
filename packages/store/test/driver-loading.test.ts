import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * openStore loads only the driver of the backend a URL names. Each case runs a fresh node
 * that imports @baton/store and opens a store, with resolve hooks (fixtures/record-resolves.mjs)
 * recording every module specifier it imports; the driver it needs must be among them (the
 * hooks see imports), the other two must not.
 */
const run = promisify(execFile);
const HOOKS = fileURLToPath(new URL('./fixtures/record-resolves.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'baton-drivers-'));
const tag = randomBytes(4).toString('hex');
const PG_URL = 'postgres://root@127.0.0.1:5432/test';
const DRIVERS = ['better-sqlite3', 'pg', 'ioredis'] as const;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Opens and closes a store at `url` in a new process; answers the driver packages it imported.
 * An open that fails prints the error's code, which the caller gets as `failed`.
 */
async function driversLoaded(url: string): Promise<string[] & { failed?: string }> {
  const log = join(dir, `${randomBytes(4).toString('hex')}.log`);
  const script = `
    import { openStore } from '@baton/store';
    try {
      const store = await openStore(process.env.STORE_URL);
      await store.ping();
      await store.close();
    } catch (err) {
      process.stdout.write(String(err.code));
    }`;
  const { stdout } = await run(process.execPath, ['--import', HOOKS, '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, STORE_URL: url, BATON_RESOLVE_LOG: log },
  });
  const specifiers = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t')[0]!);
  expect(specifiers).toContain('@baton/store');
  const drivers: string[] & { failed?: string } = DRIVERS.filter((d) => specifiers.includes(d));
  if (stdout !== '') drivers.failed = stdout;
  return drivers;
}

describe('driver loading', () => {
  it('a SQLite store loads better-sqlite3 only', async () => {
    expect(await driversLoaded('sqlite::memory:')).toEqual(['better-sqlite3']);
    expect(await driversLoaded(`sqlite:${join(dir, 'file.db')}`)).toEqual(['better-sqlite3']);
  });

  it('a PostgreSQL store loads pg only', async () => {
    const schema = `drivers_${tag}`;
    try {
      expect(await driversLoaded(`${PG_URL}?schema=${schema}`)).toEqual(['pg']);
    } finally {
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('a Redis store loads ioredis only', async () => {
    const prefix = `baton-drivers-${tag}`;
    try {
      expect(await driversLoaded(`redis://127.0.0.1:6379?prefix=${prefix}`)).toEqual(['ioredis']);
    } finally {
      const redis = new Redis({ host: '127.0.0.1', port: 6379 });
      const keys = await redis.keys(`{${prefix}}:*`);
      if (keys.length > 0) await redis.unlink(...keys);
      await redis.quit();
    }
  });

  it('a bad URL loads no driver', async () => {
    for (const url of ['mysql://nowhere', 'postgres://h/db?schema=Bad-Name', 'redis://h?prefix=bad prefix']) {
      const drivers = await driversLoaded(url);
      expect(drivers.failed, url).toBe('INVALID_STORE_URL');
      expect([...drivers], url).toEqual([]);
    }
  });
});
