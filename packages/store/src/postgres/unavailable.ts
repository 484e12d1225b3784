import { NETWORK_CODES, errorCode, errorMessage } from '../unavailable.js';

/**
 * SQLSTATEs that mean the server is going away or not taking connections: class 08
 * (connection exception) is matched by prefix; 57P01 admin_shutdown, 57P02 crash_shutdown,
 * 57P03 cannot_connect_now (starting up, recovering), 53300 too_many_connections.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Messages of `pg` and `pg-pool` when a connection ends or none can be had in time. */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/, // unexpectedly, or due to connection timeout
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
  /^Connection is closed/,
];

/** Whether a `pg` error means PostgreSQL cannot be used right now (see guardStore). */
export function isPostgresUnavailable(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(isPostgresUnavailable);
  const code = errorCode(err);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  const message = errorMessage(err);
  return UNAVAILABLE_MESSAGES.some((m) => m.test(message));
}
