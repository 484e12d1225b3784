import { ValidationError } from '@baton/core';
import type { Store, StoreOptions } from './contract.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { parsePostgresUrl } from './postgres/url.js';
import { parseRedisUrl } from './redis/config.js';
import { RedisStore } from './redis/redis-store.js';

export const DEFAULT_STORE_URL = 'sqlite:./baton.db';

/**
 * Opens (and migrates) the store a URL names: `sqlite:PATH` or `sqlite::memory:`.
 * The caller owns the store and must `close()` it.
 */
export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const store = createStore(url, options);
  try {
    await store.init();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

function createStore(url: string, options: StoreOptions): Store {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '')
      throw new ValidationError(
        `store URL "${url}" has no path; use sqlite:./baton.db or sqlite::memory:`,
        undefined,
        'INVALID_STORE_URL',
      );
    return new SqliteStore(path === ':memory:' ? ':memory:' : path, options);
  }
  if (/^postgres(ql)?:\/\//i.test(url)) return new PostgresStore(parsePostgresUrl(url), options);
  if (/^rediss?(\+cluster)?:\/\//i.test(url)) return new RedisStore(parseRedisUrl(url), options);
  const scheme = /^([a-z0-9+]+):/i.exec(url)?.[1];
  throw new ValidationError(
    scheme
      ? `store backend "${scheme}" is not available in this build; use sqlite:PATH or sqlite::memory:`
      : `store URL "${url}" is not a URL; use sqlite:PATH or sqlite::memory:`,
    undefined,
    'INVALID_STORE_URL',
  );
}
