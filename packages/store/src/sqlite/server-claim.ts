import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { BatonError } from '@baton/core';
import { errorCode } from '../unavailable.js';

/**
 * One Baton server per SQLite file. Two servers on one file never run jobs (each schedules
 * only the agents connected to it, and SQLite gives them no way to hand placements to each
 * other), so a second one must refuse to start, loudly.
 *
 * The claim is an OS lock that dies with its process: a sidecar SQLite database
 * (`<path>-server.lock`) whose write lock the holder keeps, by holding a `BEGIN IMMEDIATE`
 * transaction open until it closes the store. A holder killed with `kill -9` loses it with
 * its file descriptors, so a restart is never blocked by a stale file (the file itself stays:
 * deleting a lock file another process may hold would break the exclusion). A held write lock
 * still lets others read the committed holder row, so the refusal can name the holder.
 * Nothing else locks the sidecar, so tools that open the database itself (`baton store copy`)
 * are unaffected.
 */
/** Every claim this process holds, so none is garbage-collected (and unlocked) while held. */
const HELD = new Set<ServerClaim>();

export class ServerClaim {
  private constructor(private readonly db: Database.Database) {
    // Reachable until released: a collected connection closes, and the lock would go with it
    // while its server (which may hold the store only through closures) still runs.
    HELD.add(this);
  }

  /** Claims the database at `path` for this process; throws `STORE_IN_USE` when another holds it. */
  static take(path: string, serverId: string): ServerClaim {
    // No busy timeout: a held lock is held for a server's lifetime, waiting would not help.
    const db = new Database(`${path}-server.lock`, { timeout: 0 });
    try {
      if (!begin(db)) throw inUse(db, path);
      db.exec(`CREATE TABLE IF NOT EXISTS holder (
        id INTEGER PRIMARY KEY CHECK (id = 1), server_id TEXT NOT NULL, pid INTEGER NOT NULL,
        host TEXT NOT NULL, since INTEGER NOT NULL)`);
      // Wall-clock time, not the store's clock: it is for the person reading a refusal.
      db.prepare('INSERT OR REPLACE INTO holder (id, server_id, pid, host, since) VALUES (1, ?, ?, ?, ?)').run(
        serverId,
        process.pid,
        hostname(),
        Date.now(),
      );
      // Committed so that others can read who holds it, then locked again. A process that took
      // the lock in between holds it: this one is refused, naming that one. The commit waits
      // out a refused process reading the holder row (a moment), which blocks it briefly.
      db.pragma('busy_timeout = 2000');
      db.exec('COMMIT');
      db.pragma('busy_timeout = 0');
      if (!begin(db)) throw inUse(db, path);
      return new ServerClaim(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Gives the claim up (closing rolls the held transaction back, which releases the lock). */
  release(): void {
    HELD.delete(this);
    if (this.db.open) this.db.close();
  }
}

/** Takes the sidecar's write lock; false when another connection holds it. */
function begin(db: Database.Database): boolean {
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (err) {
    if (/^SQLITE_BUSY/.test(errorCode(err) ?? '')) return false;
    throw err;
  }
}

/** The refusal, naming the holder when its row can be read. */
function inUse(db: Database.Database, path: string): BatonError {
  let holder: { server_id: string; pid: number; host: string; since: number } | undefined;
  try {
    holder = db.prepare('SELECT server_id, pid, host, since FROM holder WHERE id = 1').get() as typeof holder;
  } catch {
    // Not written yet (the holder is starting) or locked for its commit: name what we can.
  }
  const who = holder
    ? ` (server ${holder.server_id}, pid ${holder.pid} on host ${holder.host}, since ${new Date(holder.since).toISOString()})`
    : '';
  return new BatonError(
    'STORE_IN_USE',
    `another Baton server is using ${path}${who}; run one server per SQLite file, or use PostgreSQL or Redis for many servers`,
    409,
    holder && { serverId: holder.server_id, pid: holder.pid, host: holder.host, since: holder.since },
  );
}
