import type { StoreEvent } from './contract.js';

/**
 * What many servers and schedulers coordinate through, kept in the store they share:
 * schedulers' liveness, leases on scheduler shards, the agents each server has, and messages
 * to every server. Times come from the store's clock, like every other call.
 */
export interface Coordination {
  /**
   * Records that scheduler `id` is alive until now + `ttlMs`, and returns the ids of every
   * scheduler alive now, its own included, sorted.
   */
  heartbeatScheduler(id: string, ttlMs: number): Promise<string[]>;
  /** A clean stop: the scheduler is no longer alive and its shard leases end at once. */
  removeScheduler(id: string): Promise<void>;
  /**
   * Makes `owner` hold exactly the listed shards it can get: takes or renews a lease until now
   * + `leaseMs` on each listed shard that is free, expired or already its own (a shard another
   * owner holds under a live lease is not taken), and gives up the shards it holds that are not
   * listed. Atomic per shard. Returns the shards `owner` holds afterwards, ascending.
   */
  claimShards(owner: string, shards: number[], leaseMs: number): Promise<number[]>;
  /** Every live shard lease, by shard. */
  shardLeases(): Promise<ShardLease[]>;
  /**
   * Replaces what server `serverId` reports about its agents (opaque JSON to the store), valid
   * until now + `ttlMs`: a server that stops reporting drops out when its report expires.
   */
  putAgents(serverId: string, report: unknown, ttlMs: number): Promise<void>;
  /** Every server's report that has not expired. */
  agentReports(): Promise<AgentReport[]>;
  /** Delivers `event` to every store on this database (every server), this one included. */
  publish(event: StoreEvent): Promise<void>;
  /**
   * Called by a server as it starts. Where only one server can serve a database (a SQLite
   * file: servers on one file would never run jobs), claims it for this process until
   * `close()`, and throws a `BatonError` with code `STORE_IN_USE` (HTTP 409) naming the holder
   * when another live process holds it. The claim dies with its process, so a server killed
   * with `kill -9` never blocks its restart. Calling it again on the same store does nothing.
   * Other tools on the same file (`baton store copy`) do not claim and keep working. On
   * PostgreSQL and Redis, which many servers share, and on `sqlite::memory:`, it does nothing.
   */
  claimServer(serverId: string): Promise<void>;
}

export interface ShardLease {
  shard: number;
  owner: string;
  expiresAt: number;
}

export interface AgentReport {
  serverId: string;
  report: unknown;
  /** When the report was made (the store's clock). */
  at: number;
}
