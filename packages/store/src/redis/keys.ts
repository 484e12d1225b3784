/**
 * Every Redis key of a store. All of them carry the hash tag `{prefix}`, so they live in one
 * slot: every script can declare (and touch) any of them on Redis Cluster, and batches run as
 * one pipeline. The cost is that one store's data lives on one shard (see the README).
 */
export class RedisKeys {
  private readonly base: string;
  private indexes: string[] | undefined;

  constructor(readonly prefix: string) {
    this.base = `{${prefix}}:`;
  }

  job(id: string): string {
    return `${this.base}job:${id}`;
  }
  attempts(id: string): string {
    return `${this.base}attempts:${id}`;
  }
  logs(id: string): string {
    return `${this.base}logs:${id}`;
  }
  logTail(id: string): string {
    return `${this.base}logtail:${id}`;
  }
  get queued(): string {
    return `${this.base}queued`;
  }
  get waiting(): string {
    return `${this.base}waiting`;
  }
  get delayed(): string {
    return `${this.base}delayed`;
  }
  get leased(): string {
    return `${this.base}leased`;
  }
  get finished(): string {
    return `${this.base}finished`;
  }
  get counts(): string {
    return `${this.base}counts`;
  }
  get byState(): string {
    return `${this.base}bystate`;
  }
  get byQueueState(): string {
    return `${this.base}byqueuestate`;
  }
  get byQueue(): string {
    return `${this.base}byqueue`;
  }
  get byOwner(): string {
    return `${this.base}byowner`;
  }
  get all(): string {
    return `${this.base}all`;
  }
  get queues(): string {
    return `${this.base}queues`;
  }
  get idempotency(): string {
    return `${this.base}idem`;
  }
  get routes(): string {
    return `${this.base}routes`;
  }
  get schema(): string {
    return `${this.base}schema`;
  }
  /** Coordination (see coordination.ts): live schedulers, zset id by expiry. */
  get schedulers(): string {
    return `${this.base}schedulers`;
  }
  /** Shard leases: hash shard -> "<expires at>\0<owner>". */
  get shards(): string {
    return `${this.base}shards`;
  }
  /** Each owner's shards: lex zset "<owner>\0<shard>". */
  get shardOwners(): string {
    return `${this.base}shardowners`;
  }
  /** Servers' agent reports: hash server id -> JSON {at, report}. */
  get agents(): string {
    return `${this.base}agents`;
  }
  /** When each server's report expires: zset server id by expiry. */
  get agentExpiry(): string {
    return `${this.base}agentexpiry`;
  }
  /** The pub/sub channel of the store's events. */
  get channel(): string {
    return `${this.base}events`;
  }
  /**
   * What every job transition script takes as KEYS[1..8] (see scripts/lib/job.lua), which
   * builds a job's own keys from the prefix of the first.
   */
  get jobIndexes(): string[] {
    return (this.indexes ??= [
      this.queued,
      this.waiting,
      this.delayed,
      this.leased,
      this.counts,
      this.byState,
      this.byQueueState,
      this.finished,
    ]);
  }
  /** Every key of the store matches this pattern (for SCAN, in tests and tools). */
  get pattern(): string {
    return `${this.base}*`;
  }
}

/** Separates the parts of index members ("<queue>\0<id>"): no name contains it. */
export const SEP = '\0';
/** The first character after SEP: a range "[name\0" … "(name\x01" holds exactly one name's members. */
export const AFTER_SEP = '\x01';
