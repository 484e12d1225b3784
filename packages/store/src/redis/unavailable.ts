import { NETWORK_CODES, errorCode, errorMessage } from '../unavailable.js';

/**
 * Replies a server gives while it cannot serve: loading its dataset, a cluster without a
 * quorum or with a slot being moved, a replica promoted or demoted mid-failover, a script
 * that blocks the server.
 */
const UNAVAILABLE_REPLIES = /^(LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|BUSY|NOREPLICAS)\b/;

/** Client-side messages of ioredis when no connection can carry a command. */
const UNAVAILABLE_MESSAGES = [
  /^Connection is closed/,
  /^Stream isn't writeable/,
  /^Cluster isn't ready/,
  /^Failed to refresh slots cache/,
  /^None of startup nodes is available/,
  /^Command timed out/,
];

/** Whether an ioredis error means Redis cannot be used right now (see guardStore). */
export function isRedisUnavailable(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(isRedisUnavailable);
  const name = err instanceof Error ? err.name : '';
  if (name === 'MaxRetriesPerRequestError' || name === 'ClusterAllFailedError') return true;
  const code = errorCode(err);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  const message = errorMessage(err);
  return UNAVAILABLE_REPLIES.test(message) || UNAVAILABLE_MESSAGES.some((m) => m.test(message));
}

/**
 * Once a store is open, a command sent while the connection is down fails at once (and so
 * reaches its caller as STORE_UNAVAILABLE) instead of waiting in ioredis' offline queue until
 * the server comes back: an API call answers 503 promptly rather than hanging. Commands
 * already sent when the connection dropped are retried on reconnect up to
 * `maxRetriesPerRequest` times. Opening keeps the queue, so `connect()` and the first commands
 * can be issued together.
 */
export function failFastWhileDown(client: { options: { enableOfflineQueue?: boolean } }): void {
  client.options.enableOfflineQueue = false;
}
