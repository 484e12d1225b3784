import type pg from 'pg';
import type { StoreEvent } from '../contract.js';
import type { AgentReport, ShardLease } from '../coordination.js';
import type { EventRelay } from './notifications.js';
import * as sql from './sql/coordination.js';
import type { Statement } from './sql/statement.js';

/**
 * Coordination of the PostgreSQL store (migration 3's tables `schedulers`, `shard_leases` and
 * `agent_reports`). Each call is one statement, so it is atomic and, for claims, per shard
 * decided under the row's lock (`ON CONFLICT ... DO UPDATE ... WHERE`). Messages go through the
 * store's {@link EventRelay}: its listeners at once, other stores on the schema by NOTIFY.
 */
export class PostgresCoordination {
  constructor(
    private readonly pool: pg.Pool,
    private readonly relay: EventRelay,
    private readonly clock: () => number,
  ) {}

  private async run<R extends pg.QueryResultRow>(statement: Statement, values: unknown[]): Promise<R[]> {
    return (await this.pool.query<R>({ name: statement.name, text: statement.text, values })).rows;
  }

  async heartbeatScheduler(id: string, ttlMs: number): Promise<string[]> {
    const now = this.clock();
    const rows = await this.run<{ id: string }>(sql.heartbeatScheduler, [id, now + ttlMs, now]);
    return rows.map((r) => r.id);
  }

  async removeScheduler(id: string): Promise<void> {
    await this.run(sql.removeScheduler, [id]);
  }

  async claimShards(owner: string, shards: number[], leaseMs: number): Promise<number[]> {
    const now = this.clock();
    const rows = await this.run<{ shard: number }>(sql.claimShards, [owner, shards, now + leaseMs, now]);
    return rows.map((r) => r.shard);
  }

  async shardLeases(): Promise<ShardLease[]> {
    return this.run<ShardLease>(sql.shardLeases, [this.clock()]);
  }

  async putAgents(serverId: string, report: unknown, ttlMs: number): Promise<void> {
    const now = this.clock();
    await this.run(sql.putAgents, [serverId, JSON.stringify(report) ?? 'null', now, now + ttlMs]);
  }

  async agentReports(): Promise<AgentReport[]> {
    return this.run<AgentReport>(sql.agentReports, [this.clock()]);
  }

  /** Local listeners at once; resolves when the NOTIFY carrying it has been sent. */
  async publish(event: StoreEvent): Promise<void> {
    this.relay.publish(event);
    await this.relay.sent();
  }
}
