import { ValidationError } from '@baton/core';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import type { AgentReport, ShardLease } from '../coordination.js';
import type { RedisKeys } from './keys.js';
import { SEP } from './keys.js';
import { callScript } from './scripts.js';

type Client = Redis | Cluster;

/** What a report's hash field holds. */
interface StoredReport {
  at: number;
  report: unknown;
}

/**
 * Coordination of the Redis store, in keys of the store's one hash tag:
 * `{p}:schedulers` (zset id by expiry), `{p}:shards` (hash shard → "<expires at>\0<owner>") with
 * `{p}:shardowners` (lex zset "<owner>\0<shard>", so an owner's shards are found without a
 * scan), `{p}:agents` (hash server id → JSON {at, report}) with `{p}:agentexpiry` (zset server
 * id by expiry). A heartbeat is one MULTI; claims, removal and reports are scripts
 * (claim-shards, remove-scheduler, put-agents), so each is atomic. Times come from the store's
 * clock. Messages are sent by the store itself (its `emit` PUBLISHes).
 */
export class RedisCoordination {
  constructor(
    private readonly client: Client,
    private readonly keys: RedisKeys,
    private readonly clock: () => number,
  ) {}

  private async multi(build: (m: ChainableCommander) => void): Promise<unknown[]> {
    const m = this.client.multi();
    build(m);
    const replies = await m.exec();
    if (!replies) throw new Error('Redis transaction was discarded');
    return replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }

  async heartbeatScheduler(id: string, ttlMs: number): Promise<string[]> {
    const now = this.clock();
    const k = this.keys;
    const [, , live] = await this.multi((m) => {
      m.zadd(k.schedulers, now + ttlMs, id);
      m.zremrangebyscore(k.schedulers, '-inf', now);
      m.zrangebyscore(k.schedulers, `(${now}`, '+inf');
    });
    return (live as string[]).sort();
  }

  async removeScheduler(id: string): Promise<void> {
    const k = this.keys;
    await callScript(this.client, 'remove-scheduler', [k.schedulers, k.shards, k.shardOwners], [id]);
  }

  async claimShards(owner: string, shards: number[], leaseMs: number): Promise<number[]> {
    const now = this.clock();
    const k = this.keys;
    const held = (await callScript(
      this.client,
      'claim-shards',
      [k.shards, k.shardOwners],
      [owner, now, now + leaseMs, ...shards.map(shardField)],
    )) as string[];
    return held.map(Number).sort((a, b) => a - b);
  }

  async shardLeases(): Promise<ShardLease[]> {
    const now = this.clock();
    const all = await this.client.hgetall(this.keys.shards);
    const leases: ShardLease[] = [];
    for (const [field, value] of Object.entries(all)) {
      const at = value.indexOf(SEP);
      const expiresAt = Number(value.slice(0, at));
      if (expiresAt > now) leases.push({ shard: Number(field), owner: value.slice(at + 1), expiresAt });
    }
    return leases.sort((a, b) => a.shard - b.shard);
  }

  async putAgents(serverId: string, report: unknown, ttlMs: number): Promise<void> {
    const now = this.clock();
    const k = this.keys;
    const value = JSON.stringify({ at: now, report: report ?? null } satisfies StoredReport);
    await callScript(this.client, 'put-agents', [k.agents, k.agentExpiry], [serverId, value, now + ttlMs, now]);
  }

  async agentReports(): Promise<AgentReport[]> {
    const now = this.clock();
    const k = this.keys;
    // One round trip: the unexpired ids, and every report (expired ones are skipped here).
    const pipeline = this.client.pipeline();
    pipeline.zrangebyscore(k.agentExpiry, `(${now}`, '+inf');
    pipeline.hgetall(k.agents);
    const replies = await pipeline.exec();
    if (!replies) throw new Error('Redis pipeline was discarded');
    const [[idsErr, ids], [allErr, all]] = replies as [
      [Error | null, string[]],
      [Error | null, Record<string, string>],
    ];
    if (idsErr) throw idsErr;
    if (allErr) throw allErr;
    const reports: AgentReport[] = [];
    for (const serverId of ids) {
      const value = all[serverId];
      if (value === undefined) continue;
      const stored = JSON.parse(value) as StoredReport;
      reports.push({ serverId, report: stored.report, at: stored.at });
    }
    return reports.sort((a, b) => (a.serverId < b.serverId ? -1 : a.serverId > b.serverId ? 1 : 0));
  }
}

/** A shard as its hash field: the integer's decimal text. */
function shardField(shard: number): string {
  if (!Number.isSafeInteger(shard)) throw new ValidationError(`shard must be an integer, not ${shard}`);
  return String(shard);
}
