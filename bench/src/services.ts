import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

import type { StandardBackend } from './standard-points.js';

// How `standard` gets a fresh, removable place on each backend.

/** The PostgreSQL server (its database) and Redis database the points run on. */
export interface ServiceUrls {
  postgres: string;
  redis: string;
}

/** A fresh place on a backend for one point, and the way to remove it. */
export interface Place {
  store: string | undefined;
  drop(): Promise<void>;
}

const fresh = () => randomBytes(4).toString('hex');

function withParam(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

export function withoutQuery(url: string): string {
  const u = new URL(url);
  u.search = '';
  return u.toString();
}

/** Null when the service answers; else why not. */
export async function unreachable(backend: StandardBackend, options: ServiceUrls): Promise<string | null> {
  try {
    if (backend === 'postgres') {
      const client = new pg.Client({ connectionString: withoutQuery(options.postgres), connectionTimeoutMillis: 3000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => {});
      }
    } else if (backend === 'redis') {
      const redis = new Redis(withoutQuery(options.redis), {
        lazyConnect: true,
        connectTimeout: 3000,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      redis.on('error', () => {});
      try {
        await redis.connect();
        await redis.ping();
      } finally {
        redis.disconnect();
      }
    }
    return null;
  } catch (err) {
    return err instanceof Error ? err.message || err.constructor.name : String(err);
  }
}

/** SQLite: a temp file (the workloads make and remove it); PostgreSQL: a fresh schema; Redis: a fresh prefix. */
export function freshPlace(backend: StandardBackend, options: ServiceUrls): Place {
  if (backend === 'sqlite') return { store: undefined, drop: async () => {} };
  if (backend === 'postgres') {
    const schema = `bench_std_${fresh()}`;
    return {
      store: withParam(options.postgres, 'schema', schema),
      async drop() {
        const admin = new pg.Client({ connectionString: withoutQuery(options.postgres) });
        await admin.connect();
        try {
          await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await admin.end();
        }
      },
    };
  }
  const prefix = `bench-std-${fresh()}`;
  return {
    store: withParam(options.redis, 'prefix', prefix),
    async drop() {
      const redis = new Redis(withoutQuery(options.redis), { maxRetriesPerRequest: 1 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.unlink(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}
