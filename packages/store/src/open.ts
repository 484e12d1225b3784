import { ValidationError } from '@baton/core';
import type { Store, StoreOptions } from './contract.js';
import { parsePostgresUrl } from './postgres/url.js';
import { parseRedisUrl } from './redis/config.js';
import { isPostgresUnavailable } from './postgres/unavailable.js';
import { isRedisUnavailable } from './redis/unavailable.js';
import { isSqliteUnavailable } from './sqlite/unavailable.js';
import type { UnavailableClassifier } from './unavailable.js';
import { guardStore } from './unavailable.js';

export const DEFAULT_STORE_URL = 'sqlite:./baton.db';

/** Each backend's test for "its server cannot be used right now" (kept in its folder). */
const UNAVAILABLE: Record<Store['backend'], UnavailableClassifier> = {
  sqlite: isSqliteUnavailable,
  postgres: isPostgresUnavailable,
  redis: isRedisUnavailable,
};

/**
 * Opens (and migrates) the store a URL names: `sqlite:PATH`, `sqlite::memory:`, `postgres://…`
 * or `redis://…`. Every call of the returned store reports its driver's connection-level
 * errors as `StoreUnavailableError` (`STORE_UNAVAILABLE`, 503, retryable), the same on every
 * backend. The caller owns the store and must `close()` it.
 *
 * Only the chosen backend's adapter, and so its driver, is loaded (a dynamic import): a
 * Redis-only server never loads better-sqlite3's native module, nor a SQLite one pg or ioredis.
 */
export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const adapter = await createStore(url, options);
  const store = guardStore(adapter, UNAVAILABLE[adapter.backend]);
  try {
    await store.init();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** The URL is checked before any adapter loads, so a bad one costs no driver. */
async function createStore(url: string, options: StoreOptions): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '')
      throw new ValidationError(
        `store URL "${url}" has no path; use sqlite:./baton.db or sqlite::memory:`,
        undefined,
        'INVALID_STORE_URL',
      );
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    return new SqliteStore(path === ':memory:' ? ':memory:' : path, options);
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const config = parsePostgresUrl(url);
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return new PostgresStore(config, options);
  }
  if (/^rediss?(\+cluster)?:\/\//i.test(url)) {
    const config = parseRedisUrl(url);
    const { RedisStore } = await import('./redis/redis-store.js');
    return new RedisStore(config, options);
  }
  const scheme = /^([a-z0-9+]+):/i.exec(url)?.[1];
  throw new ValidationError(
    scheme
      ? `store backend "${scheme}" is not available in this build; use sqlite:PATH or sqlite::memory:`
      : `store URL "${url}" is not a URL; use sqlite:PATH or sqlite::memory:`,
    undefined,
    'INVALID_STORE_URL',
  );
}
