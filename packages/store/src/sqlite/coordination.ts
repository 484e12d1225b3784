import type Database from 'better-sqlite3';
import type { AgentReport, ShardLease } from '../coordination.js';

/**
 * Coordination tables of the SQLite store (migration 3). One process normally owns a SQLite
 * file, but the calls behave exactly as on the networked stores, so the scheduler's code is the
 * same everywhere. Each call is one transaction.
 */
export class SqliteCoordination {
  private readonly sql;

  constructor(private readonly db: Database.Database) {
    const prepare = (text: string) => db.prepare(text);
    this.sql = {
      // Params: @id, @expiresAt
      beat: prepare(`INSERT INTO schedulers (id, expires_at) VALUES (@id, @expiresAt)
        ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`),
      // Params: now
      dropExpiredSchedulers: prepare('DELETE FROM schedulers WHERE expires_at <= ?'),
      // Params: now
      liveSchedulers: prepare('SELECT id FROM schedulers WHERE expires_at > ? ORDER BY id'),
      // Params: id
      removeScheduler: prepare('DELETE FROM schedulers WHERE id = ?'),
      // Params: owner
      dropLeasesOf: prepare('DELETE FROM shard_leases WHERE owner = ?'),
      // Params: owner, JSON array of the shards it keeps
      releaseUnlisted: prepare(`DELETE FROM shard_leases WHERE owner = ?
        AND shard NOT IN (SELECT value FROM json_each(?))`),
      // Params: @shard, @owner, @expiresAt, @now. Takes a free, expired or own lease.
      claim: prepare(`INSERT INTO shard_leases (shard, owner, expires_at) VALUES (@shard, @owner, @expiresAt)
        ON CONFLICT (shard) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
        WHERE shard_leases.owner = excluded.owner OR shard_leases.expires_at <= @now`),
      // Params: owner, now
      heldBy: prepare('SELECT shard FROM shard_leases WHERE owner = ? AND expires_at > ? ORDER BY shard'),
      // Params: now
      leases: prepare(
        'SELECT shard, owner, expires_at AS expiresAt FROM shard_leases WHERE expires_at > ? ORDER BY shard',
      ),
      // Params: @serverId, @report, @at, @expiresAt
      putReport: prepare(`INSERT INTO agent_reports (server_id, report, at, expires_at)
        VALUES (@serverId, @report, @at, @expiresAt)
        ON CONFLICT (server_id) DO UPDATE SET report = excluded.report, at = excluded.at,
          expires_at = excluded.expires_at`),
      // Params: now
      reports: prepare(
        'SELECT server_id AS serverId, report, at FROM agent_reports WHERE expires_at > ? ORDER BY server_id',
      ),
      // Params: now
      dropExpiredReports: prepare('DELETE FROM agent_reports WHERE expires_at <= ?'),
    };
  }

  heartbeatScheduler(id: string, ttlMs: number, now: number): string[] {
    return this.db.transaction(() => {
      this.sql.beat.run({ id, expiresAt: now + ttlMs });
      this.sql.dropExpiredSchedulers.run(now);
      return (this.sql.liveSchedulers.all(now) as { id: string }[]).map((r) => r.id);
    })();
  }

  removeScheduler(id: string): void {
    this.db.transaction(() => {
      this.sql.removeScheduler.run(id);
      this.sql.dropLeasesOf.run(id);
    })();
  }

  claimShards(owner: string, shards: number[], leaseMs: number, now: number): number[] {
    return this.db.transaction(() => {
      this.sql.releaseUnlisted.run(owner, JSON.stringify(shards));
      for (const shard of shards) this.sql.claim.run({ shard, owner, expiresAt: now + leaseMs, now });
      return (this.sql.heldBy.all(owner, now) as { shard: number }[]).map((r) => r.shard);
    })();
  }

  shardLeases(now: number): ShardLease[] {
    return this.sql.leases.all(now) as ShardLease[];
  }

  putAgents(serverId: string, report: unknown, ttlMs: number, now: number): void {
    this.db.transaction(() => {
      this.sql.putReport.run({ serverId, report: JSON.stringify(report), at: now, expiresAt: now + ttlMs });
      this.sql.dropExpiredReports.run(now);
    })();
  }

  agentReports(now: number): AgentReport[] {
    return (this.sql.reports.all(now) as { serverId: string; report: string; at: number }[]).map((r) => ({
      serverId: r.serverId,
      report: JSON.parse(r.report) as unknown,
      at: r.at,
    }));
  }
}

/** Migration 3's tables. */
export const COORDINATION_SQL = `
  CREATE TABLE schedulers (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE shard_leases (
    shard      INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX shard_leases_owner ON shard_leases (owner);
  CREATE TABLE agent_reports (
    server_id  TEXT PRIMARY KEY,
    report     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
`;
