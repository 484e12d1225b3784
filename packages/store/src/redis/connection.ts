import { Cluster, Redis } from 'ioredis';
import type { RedisStoreConfig } from './config.js';

/**
 * A client for the store's server or cluster, not yet connected. Opening fails fast when the
 * server cannot be reached; once open (`reconnecting()` true), the client reconnects after
 * 50, 100, … up to 2000 ms. A command in flight when the connection dropped is resent at most
 * twice, so callers hear of an outage within a fraction of a second rather than hang.
 */
export function connectClient(config: RedisStoreConfig, reconnecting: () => boolean): Redis | Cluster {
  const { host, port, username, password, db, tls, connectTimeoutMs } = config;
  const retryStrategy = (times: number): number | null => (reconnecting() ? Math.min(times * 50, 2000) : null);
  const redisOptions = {
    username,
    password,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 2,
    lazyConnect: true,
    ...(tls && { tls: {} }),
  };
  const client: Redis | Cluster = config.cluster
    ? new Cluster([{ host, port }], {
        lazyConnect: true,
        redisOptions,
        clusterRetryStrategy: retryStrategy,
      })
    : new Redis({ host, port, db, retryStrategy, ...redisOptions });
  // Errors reach callers through their commands; the event only says the connection dropped.
  client.on('error', () => {});
  return client;
}
