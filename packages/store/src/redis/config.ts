import { ValidationError } from '@baton/core';

/** A Redis store URL, resolved. */
export interface RedisStoreConfig {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  /** Database number (standalone only). Default 0. */
  db: number;
  tls: boolean;
  /** Start of every key, as the hash tag `{prefix}`. Default `baton`. */
  prefix: string;
  /** Connect as a Redis Cluster client, the URL's host being one startup node. */
  cluster: boolean;
  /** How long opening waits for the server. Default 5000. */
  connectTimeoutMs: number;
}

const SCHEMES = ['redis:', 'rediss:', 'redis+cluster:', 'rediss+cluster:'];
const OPTIONS = ['prefix', 'cluster', 'connectTimeoutMs'];

function invalid(url: string, why: string): ValidationError {
  return new ValidationError(
    `store URL "${url}" ${why}; use redis://HOST:PORT[/DB]?prefix=NAME (rediss:// for TLS, cluster=1 for Redis Cluster)`,
    undefined,
    'INVALID_STORE_URL',
  );
}

/** Reads `redis://[user:password@]host[:port][/db][?prefix=…&cluster=1&connectTimeoutMs=…]`. */
export function parseRedisUrl(url: string): RedisStoreConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(url, 'is not a URL');
  }
  if (!SCHEMES.includes(u.protocol)) throw invalid(url, 'is not a Redis URL');
  for (const key of u.searchParams.keys()) {
    if (!OPTIONS.includes(key)) throw invalid(url, `has an unknown option "${key}" (known: ${OPTIONS.join(', ')})`);
  }
  const prefix = u.searchParams.get('prefix') ?? 'baton';
  if (!/^[A-Za-z0-9_.:-]+$/.test(prefix))
    throw invalid(url, `has a prefix "${prefix}" with characters other than A-Z a-z 0-9 _ . : -`);
  const clusterParam = u.searchParams.get('cluster');
  if (clusterParam !== null && !['0', '1', 'true', 'false'].includes(clusterParam)) {
    throw invalid(url, `has cluster="${clusterParam}" (use 1 or 0)`);
  }
  const cluster = u.protocol.includes('+cluster') || clusterParam === '1' || clusterParam === 'true';
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw invalid(url, `names a database "${dbText}" that is not a number`);
  if (cluster && db !== 0) throw invalid(url, 'names a database, which Redis Cluster does not have');
  const timeoutText = u.searchParams.get('connectTimeoutMs');
  const connectTimeoutMs = timeoutText === null ? 5000 : Number(timeoutText);
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
    throw invalid(url, `has connectTimeoutMs="${timeoutText}" (a positive number of milliseconds)`);
  }
  const port = u.port === '' ? 6379 : Number(u.port);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw invalid(url, 'has no host');
  return {
    host,
    port,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
    tls: u.protocol.startsWith('rediss'),
    prefix,
    cluster,
    connectTimeoutMs,
  };
}
