import { errorCode } from '../unavailable.js';

/**
 * Whether a better-sqlite3 error means the database cannot be used right now: another process
 * held the write lock past `busy_timeout` (SQLITE_BUSY and its extended codes).
 */
export function isSqliteUnavailable(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && /^SQLITE_BUSY/.test(code);
}
