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
  /** Users: hash name -> JSON {role, weight, createdAt}. */
  get users(): string {
    return `${this.base}users`;
  }
  /** API tokens: hash id -> JSON {user, hash, createdAt} (the secret's SHA-256, never the secret). */
  get tokens(): string {
    return `${this.base}tokens`;
  }
  /** One user's token ids: zset id by createdAt (listTokens, deleteUser). */
  userTokens(user: string): string {
    return `${this.base}usertokens:${user}`;
  }
  /**
   * Quotas: hash user -> JSON Quota, DEFAULT_QUOTA -> the default. Empty (so absent) while
   * no quota is set, which assign.lua checks with one EXISTS.
   */
  get quotas(): string {
    return `${this.base}quotas`;
  }
  /**
   * One owner's job counts (scripts/lib/owners.lua): hash "<queue>\0<state>" -> jobs,
   * "leased" -> jobs assigned or running, "gpus" -> their resources.gpus, "units" -> their
   * GPUs, or slots for a job without GPUs (fair share). Absent with no jobs.
   */
  owner(owner: string): string {
    return `${this.base}owner:${owner}`;
  }
  /** Owners with a leased job (scripts/lib/owners.lua): ownerLoads reads only theirs. */
  get leasedOwners(): string {
    return `${this.base}leasedowners`;
  }
  /**
   * One owner's queued jobs in one queue (scripts/lib/job.lua): lex zset, the members of
   * `{p}:queued` of those jobs, for pending's per-owner heads.
   */
  ownerQueued(queue: string, owner: string): string {
    return `${this.base}ownerqueued:${queue}${SEP}${owner}`;
  }
  /** The owners with a queued job in a queue: set (scripts/lib/job.lua). */
  queuedOwners(queue: string): string {
    return `${this.base}queuedowners:${queue}`;
  }
  /** Fair share's decayed usage: hash owner -> "<unit-seconds> <at>" (scripts/add-usage.lua). */
  get usage(): string {
    return `${this.base}usage`;
  }
  /** One runtime class's newest runtimes (whole ms), newest first: list (scripts/record-runtimes.lua). */
  runtime(key: string): string {
    return `${this.base}runtime:${key}`;
  }
  /** The runtime classes with samples: lex zset, for paging through them (copying a store). */
  get runtimeClasses(): string {
    return `${this.base}runtimeclasses`;
  }
  /** Held by the one server upgrading the key layout (schema.ts) while the others wait. */
  get upgradeLock(): string {
    return `${this.base}upgrading`;
  }
  /**
   * Workflows (scripts/lib/workflow.lua): a workflow's hash (its fields and counts), its steps'
   * job ids by creation index (zset), its step ids -> job ids (hash), and each step job's
   * dependents (set of job ids).
   */
  workflow(id: string): string {
    return `${this.base}wf:${id}`;
  }
  workflowSteps(id: string): string {
    return `${this.base}wfsteps:${id}`;
  }
  workflowStepIds(id: string): string {
    return `${this.base}wfstepids:${id}`;
  }
  dependents(jobId: string): string {
    return `${this.base}deps:${jobId}`;
  }
  /** Workflows by (owner, idempotency key): hash "<owner>\0<key>" -> id. */
  get workflowIdempotency(): string {
    return `${this.base}wfidem`;
  }
  /** Workflow listings, newest first: lex zsets "<id>", "<owner>\0<id>", "<state>\0<id>". */
  get workflowsAll(): string {
    return `${this.base}wfall`;
  }
  get workflowsByOwner(): string {
    return `${this.base}wfbyowner`;
  }
  get workflowsByState(): string {
    return `${this.base}wfbystate`;
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
/** The field of `{p}:quotas` holding the default quota: no user name contains SEP. */
export const DEFAULT_QUOTA = `${SEP}default`;
/** Fields of an owner's counts hash besides "<queue>\0<state>" (scripts/lib/owners.lua). */
export const OWNER_LEASED = 'leased';
export const OWNER_GPUS = 'gpus';
export const OWNER_UNITS = 'units';
