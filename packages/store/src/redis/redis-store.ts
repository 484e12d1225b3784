import { randomUUID } from 'node:crypto';
import type {
  Completion,
  Job,
  JobAssignment,
  JobAttempt,
  JobError,
  LeaseRef,
  LogChunk,
  NewJob,
  PendingJob,
  Placement,
  TransitionResult,
} from '@baton/core';
import { BatonError, MAX_RETRY_DELAY_MS, SchemaTooNewError, newLeaseToken, priorityRank } from '@baton/core';
import type { ChainableCommander } from 'ioredis';
import { Cluster, Redis } from 'ioredis';
import type {
  EnqueueResult,
  FinalJobState,
  JobListQuery,
  JobPage,
  PendingRequest,
  QueueStats,
  Store,
  StoredLogChunk,
  StoreEvent,
  StoreOptions,
  StoredTaskRoute,
  TaskRoute,
} from '../contract.js';
import type { AgentReport, Coordination, ShardLease } from '../coordination.js';
import { StoreEvents } from '../events.js';
import type { ListingContext } from './listing.js';
import { listJobs, queueStats } from './listing.js';
import { deleteFinished } from './retention.js';
import type { RetentionContext } from './retention.js';
import { STATUS, cancelError, transitionResult } from './codes.js';
import type { RedisStoreConfig } from './config.js';
import { RedisCoordination } from './coordination.js';
import type { JobHash } from './job-hash.js';
import {
  ENQUEUE_FIELDS,
  PAYLOAD_AT,
  PENDING_FIELDS,
  assignedOf,
  attemptOfRecord,
  currentAttempt,
  hashOf,
  enqueueRow,
  idOfMember,
  jobOfHash,
  jobOfNewJob,
  pendingOf,
  queuedMember,
} from './job-hash.js';
import { AFTER_SEP, RedisKeys, SEP } from './keys.js';
import { appendLogs, getLogs } from './logs.js';
import { logPageLimit } from '../rules/log-rules.js';
import type { ScriptName } from './scripts.js';
import { callScript, defineScripts } from './scripts.js';
import { failFastWhileDown } from './unavailable.js';
import { registerTasks, taskRoutes } from './routes.js';
import { checkReleaseItems } from '../rules/lease-rules.js';
import { enqueuedEvent, initialState, resendFreedKeys } from '../rules/enqueue-rules.js';
import { askedPending } from '../rules/scheduling-rules.js';
import { storeSettings } from '../rules/options.js';
import { routeExpiry } from '../rules/route-rules.js';

/**
 * The key layout this code writes; a store marked with a newer one is refused. 2 added
 * `{p}:finished` (final jobs by finish time, for retention); a version 1 store is upgraded
 * at init by indexing its final jobs.
 */
const SCHEMA_VERSION = 2;
const FINAL_STATES = ['succeeded', 'failed', 'cancelled'] as const;
/** Jobs one promoteDue or expireLeases call moves at most (the caller sweeps again). */
const SWEEP_BATCH = 1000;
/** Jobs deleteFinished reads and deletes per round trip. */
const DELETE_BATCH = 1000;
/** Jobs one batch script call carries at most; a larger batch is several calls in one pipeline. */
const SCRIPT_BATCH = 500;

type Client = Redis | Cluster;

/**
 * The Redis backend. Every state transition is one Lua script (scripts/*.lua) that takes a
 * whole batch of jobs in one call (one round trip), each job's change atomic. Times come from the store's clock,
 * passed to the scripts, never from Redis. Events go to local listeners at once and to other
 * processes by PUBLISH on the prefix's channel.
 */
export class RedisStore implements Store, Coordination {
  readonly backend = 'redis' as const;
  readonly keys: RedisKeys;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly logTailBytes: number;
  private readonly events = new StoreEvents();
  /** Marks this store's own messages, which its listeners already had. */
  private readonly origin = randomUUID();
  private readonly client: Client;
  private readonly coordination: RedisCoordination;
  private subscriber: Client | null = null;
  private opened = false;
  private closed = false;

  constructor(
    private readonly config: RedisStoreConfig,
    options: StoreOptions = {},
  ) {
    ({ clock: this.clock, random: this.random, logTailBytes: this.logTailBytes } = storeSettings(options));
    this.keys = new RedisKeys(config.prefix);
    this.client = this.connectClient();
    this.coordination = new RedisCoordination(this.client, this.keys, this.clock);
  }

  private connectClient(): Client {
    const { host, port, username, password, db, tls, connectTimeoutMs } = this.config;
    // Opening fails fast when the server cannot be reached; once open, the client reconnects.
    const retryStrategy = (times: number): number | null =>
      this.opened && !this.closed ? Math.min(times * 50, 2000) : null;
    const redisOptions = {
      username,
      password,
      connectTimeout: connectTimeoutMs,
      maxRetriesPerRequest: 2,
      lazyConnect: true,
      ...(tls && { tls: {} }),
    };
    const client: Client = this.config.cluster
      ? new Cluster([{ host, port }], {
          lazyConnect: true,
          redisOptions,
          clusterRetryStrategy: retryStrategy,
        })
      : new Redis({ host, port, db, retryStrategy, ...redisOptions });
    // Errors reach callers through their commands; the event only says the connection dropped.
    client.on('error', () => {});
    return client;
  }

  async init(): Promise<void> {
    const where = `${this.config.host}:${this.config.port}`;
    try {
      await this.client.connect();
      defineScripts(this.client);
      await this.client.set(this.keys.schema, String(SCHEMA_VERSION), 'NX');
      const found = Number(await this.client.get(this.keys.schema));
      if (found > SCHEMA_VERSION) throw new SchemaTooNewError(found, SCHEMA_VERSION);
      if (found < 2) await this.indexFinished();
      const subscriber: Client = this.client instanceof Cluster ? this.client.duplicate() : this.client.duplicate();
      subscriber.on('error', () => {});
      this.subscriber = subscriber;
      await subscriber.connect();
      subscriber.on('message', (channel: string, message: string) => this.delivered(channel, message));
      await subscriber.subscribe(this.keys.channel);
      this.opened = true;
      failFastWhileDown(this.client);
    } catch (err) {
      if (err instanceof BatonError) throw err;
      throw new BatonError(
        'STORE_UNAVAILABLE',
        `cannot use Redis at ${where}: ${err instanceof Error ? err.message : String(err)}`,
        503,
        undefined,
        true,
      );
    }
  }

  /**
   * Upgrades a version 1 store: puts its final jobs in `{p}:finished`, in pages (never one long
   * script), then marks the layout 2. Idempotent, so servers starting together may both run it.
   * Jobs that a version 1 server finishes after this are not indexed: upgrade every server.
   */
  private async indexFinished(): Promise<void> {
    const k = this.keys;
    for (const state of FINAL_STATES) {
      let min = `[${state}${SEP}`;
      const max = `(${state}${AFTER_SEP}`;
      for (;;) {
        const members = await this.client.zrangebylex(k.byState, min, max, 'LIMIT', 0, DELETE_BATCH);
        if (members.length === 0) break;
        const ids = members.map(idOfMember);
        const times = await this.batch((p) => {
          for (const id of ids) p.hget(k.job(id), 'finished_at');
        });
        const entries = ids.flatMap((id, i) => (times[i] == null ? [] : [String(times[i]), id]));
        if (entries.length > 0) await this.client.zadd(k.finished, ...entries);
        if (members.length < DELETE_BATCH) break;
        min = `(${members[members.length - 1]!}`;
      }
    }
    await this.client.set(k.schema, String(SCHEMA_VERSION));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      [this.subscriber, this.client].map(async (c) => {
        if (!c) return;
        if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
        else c.disconnect();
      }),
    );
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  /** Tells local listeners now, and other processes through pub/sub (fire and forget). */
  private emit(event: StoreEvent): void {
    this.sent(event).catch(() => {});
  }

  /** Tells local listeners now; resolves once the message is PUBLISHed to other processes. */
  private async sent(event: StoreEvent): Promise<void> {
    this.events.emit(event);
    await this.client.publish(this.keys.channel, JSON.stringify({ o: this.origin, e: event }));
  }

  private delivered(channel: string, message: string): void {
    if (channel !== this.keys.channel) return;
    let parsed: { o?: string; e?: StoreEvent };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.o !== this.origin && parsed.e) this.events.emit(parsed.e);
  }

  /** Runs commands as one pipeline (one round trip); throws the first command error. */
  private async batch(build: (p: ChainableCommander) => void): Promise<unknown[]> {
    const pipeline = this.client.pipeline();
    build(pipeline);
    const replies = await pipeline.exec();
    if (!replies) throw new Error('Redis pipeline was discarded');
    return replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }

  /** One script call per item, as one pipeline (the sweeps that are not batched: deleteFinished). */
  /** The client, keys and per-job pipeline, for the modules that run batches of scripts. */
  private get perJobContext(): RetentionContext {
    return { client: this.client, keys: this.keys, perJob: (items, name, call) => this.perJob(items, name, call) };
  }

  private async perJob<T>(
    items: readonly T[],
    name: ScriptName,
    call: (item: T) => { keys: string[]; args: (string | number)[] },
  ): Promise<unknown[]> {
    if (items.length === 0) return [];
    return this.batch((p) => {
      for (const item of items) {
        const { keys, args } = call(item);
        callScript(p, name, keys, args);
      }
    });
  }

  /**
   * A batch script over many jobs: one call of `head` then each item's arguments, at most
   * SCRIPT_BATCH items a call (so one call never holds the server long), the calls sent as one
   * pipeline. Each call is atomic, so each job's transition is. Returns the calls' replies,
   * concatenated (each script returns a flat list, so many values per item).
   */
  private async batchScript<T>(
    items: readonly T[],
    name: ScriptName,
    keys: readonly string[],
    head: readonly (string | number)[],
    each: (item: T, i: number, args: (string | number)[]) => void,
  ): Promise<unknown[]> {
    if (items.length === 0) return [];
    const calls: (string | number)[][] = [];
    for (let from = 0; from < items.length; from += SCRIPT_BATCH) {
      const args = [...head];
      const to = Math.min(items.length, from + SCRIPT_BATCH);
      for (let i = from; i < to; i++) each(items[i]!, i, args);
      calls.push(args);
    }
    if (calls.length === 1) return (await callScript(this.client, name, keys, calls[0]!)) as unknown[];
    const replies = await this.batch((p) => {
      for (const args of calls) callScript(p, name, keys, args);
    });
    return (replies as unknown[][]).flat();
  }

  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    const now = this.clock();
    const k = this.keys;
    const rows = jobs.map(enqueueRow);
    const states = jobs.map((job) => initialState(job, now));
    const enqueueKeys = [...k.jobIndexes, k.idempotency, k.byQueue, k.byOwner, k.all, k.queues];
    const head = [ENQUEUE_FIELDS.length, ...ENQUEUE_FIELDS];
    const send = async (indexes: number[]): Promise<[number, string][]> => {
      const flat = await this.batchScript(indexes, 'enqueue', enqueueKeys, head, (j, _, args) => {
        const job = jobs[j]!;
        args.push(
          states[j]!,
          job.idempotencyKey === null ? '' : `${job.owner}${SEP}${job.idempotencyKey}`,
          job.timeoutMs === null ? '' : String(job.timeoutMs),
        );
        for (const value of rows[j]!) args.push(value);
      });
      return indexes.map((_, n) => [Number(flat[2 * n]), String(flat[2 * n + 1])]);
    };
    const replies = await send(jobs.map((_, j) => j));
    // Jobs an idempotency key already named are read back (a second round trip, only for them).
    // One that deleteFinished removed in between has freed its key: that job is sent again.
    const existing = new Map<string, Job>();
    const named = (j: number): boolean => replies[j]![0] === 0;
    await resendFreedKeys(
      replies.flatMap((r, j) => (named(j) ? [j] : [])),
      async (todo) => {
        const wanted = [...new Set(todo.map((j) => replies[j]![1]).filter((id) => id && !existing.has(id)))];
        const found = await this.batch((p) => {
          for (const id of wanted) p.hgetall(k.job(id));
        });
        const gone = new Set<string>();
        wanted.forEach((id, n) => {
          const h = hashOf(found[n]);
          if (h.id === undefined) gone.add(id);
          else existing.set(id, jobOfHash(h));
        });
        const again = todo.filter((j) => gone.has(replies[j]![1]));
        if (again.length === 0) return [];
        const more = await send(again);
        again.forEach((j, n) => (replies[j] = more[n]!));
        return again.filter(named);
      },
    );
    const results = replies.map((reply, i): EnqueueResult => {
      if (reply[0] === 0) return { job: existing.get(reply[1])!, created: false };
      return { job: jobOfNewJob(jobs[i]!, states[i]!, rows[i]![PAYLOAD_AT]!), created: true };
    });
    const event = enqueuedEvent(createdJobs(results));
    if (event) this.emit(event);
    return results;
  }

  async getJob(id: string): Promise<Job | null> {
    const h = hashOf(await this.client.hgetall(this.keys.job(id)));
    return h.id === undefined ? null : jobOfHash(h);
  }

  async getAttempts(id: string): Promise<JobAttempt[]> {
    const [records, hash] = await this.batch((p) => {
      p.lrange(this.keys.attempts(id), 0, -1);
      p.hgetall(this.keys.job(id));
    });
    const attempts = (records as string[]).map(attemptOfRecord);
    const h = hashOf(hash);
    const current = h.id === undefined ? null : currentAttempt(h, attempts.length);
    if (current) attempts.push(current);
    return attempts.sort((a, b) => a.attempt - b.attempt);
  }

  async listJobs(query: JobListQuery): Promise<JobPage> {
    return listJobs(this.listing, query);
  }

  async queueStats(): Promise<QueueStats[]> {
    return queueStats(this.listing);
  }

  /** What the read-side queries (listing.ts) use. */
  private get listing(): ListingContext {
    return { client: this.client, keys: this.keys, clock: this.clock, batch: (build) => this.batch(build) };
  }

  async cancel(id: string): Promise<Job> {
    const now = this.clock();
    const [status, agentOrState, flat] = (await callScript(this.client, 'cancel', this.keys.jobIndexes, [now, id])) as [
      number,
      string?,
      unknown?,
    ];
    if (status !== STATUS.OK) throw cancelError(id, status, agentOrState ?? '');
    this.emit({ type: 'cancelled', jobId: id, agentId: agentOrState || null });
    return jobOfHash(hashOf(flat));
  }

  /** The ids a sweep may move (due by `now`) and the earliest time in the index. */
  private async due(index: string, now: number): Promise<string[]> {
    return this.client.zrangebyscore(index, '-inf', now, 'LIMIT', 0, SWEEP_BATCH);
  }

  private async earliest(index: string): Promise<number | null> {
    const [, score] = await this.client.zrange(index, '0', '0', 'WITHSCORES');
    return score === undefined ? null : Number(score);
  }

  async promoteDue(): Promise<{ promoted: number; nextRunAt: number | null }> {
    const now = this.clock();
    const ids = await this.due(this.keys.delayed, now);
    const replies = await this.batchScript(ids, 'promote', this.keys.jobIndexes, [now], (id, _, args) => {
      args.push(id);
    });
    const promoted = replies.filter((r) => Number(r) === 1).length;
    const nextRunAt = await this.earliest(this.keys.delayed);
    // Other schedulers sharing the store learn of the new work too.
    if (promoted > 0) this.emit({ type: 'changed' });
    return { promoted, nextRunAt };
  }

  async pending(requests: PendingRequest[]): Promise<PendingJob[]> {
    const asked = askedPending(requests);
    if (asked.length === 0) return [];
    const values = (await callScript(
      this.client,
      'pending',
      [this.keys.queued],
      [
        PENDING_FIELDS.length,
        ...PENDING_FIELDS,
        ...asked.flatMap(({ queue, limit, after }) => [
          queue,
          limit,
          after ? queuedMember(queue, priorityRank(after.priority), after.priorityLevel, after.id) : '',
        ]),
      ],
    )) as (string | null)[];
    const width = PENDING_FIELDS.length;
    const out: PendingJob[] = [];
    for (let at = 0; at < values.length; at += width) {
      const job = pendingOf(values.slice(at, at + width));
      if (job) out.push(job);
    }
    return out;
  }

  async assign(placements: Placement[], leaseMs: number): Promise<JobAssignment[]> {
    const now = this.clock();
    const tokens = placements.map(() => newLeaseToken());
    const replies = (await this.batchScript(
      placements,
      'assign',
      this.keys.jobIndexes,
      [now, now + leaseMs],
      (pl, i, args) => {
        args.push(pl.jobId, pl.agentId, tokens[i]!, JSON.stringify(pl.gpus));
      },
    )) as string[][];
    const out: JobAssignment[] = [];
    replies.forEach((r, j) => {
      if (Number(r[0]) !== 1) return;
      const pl = placements[j]!;
      out.push({ job: assignedOf(pl.jobId, pl.agentId, [...pl.gpus], r), leaseToken: tokens[j]! });
    });
    return out;
  }

  async expireLeases(): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> {
    const now = this.clock();
    const ids = await this.due(this.keys.leased, now);
    const replies = await this.batchScript(ids, 'expire', this.keys.jobIndexes, [now], (id, _, args) => {
      args.push(id);
    });
    const requeued = ids.filter((_, i) => Number(replies[i]) === 1);
    const failed = ids.filter((_, i) => Number(replies[i]) === 2);
    const nextExpiryAt = await this.earliest(this.keys.leased);
    if (requeued.length > 0 || failed.length > 0) this.emit({ type: 'changed' });
    return { requeued, failed, nextExpiryAt };
  }

  /** Transition results from a flat reply of `width` values per item: status, state, … */
  private results(items: readonly LeaseRef[], replies: unknown[], width = 2): TransitionResult[] {
    return items.map((item, i) =>
      transitionResult(item.jobId, Number(replies[i * width]), String(replies[i * width + 1])),
    );
  }

  async start(items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]> {
    const now = this.clock();
    const replies = await this.batchScript(
      items,
      'start',
      this.keys.jobIndexes,
      [now, now + leaseMs],
      (item, _, args) => {
        args.push(item.jobId, item.leaseToken);
      },
    );
    return this.results(items, replies);
  }

  async heartbeat(items: (LeaseRef & { progress?: number })[], leaseMs: number): Promise<TransitionResult[]> {
    const now = this.clock();
    const replies = await this.batchScript(
      items,
      'heartbeat',
      this.keys.jobIndexes,
      [now, now + leaseMs],
      (item, _, args) => {
        args.push(item.jobId, item.leaseToken, item.progress === undefined ? '' : String(item.progress));
      },
    );
    return this.results(items, replies);
  }

  async complete(items: Completion[]): Promise<TransitionResult[]> {
    const now = this.clock();
    const replies = await this.batchScript(
      items,
      'complete',
      this.keys.jobIndexes,
      [now, MAX_RETRY_DELAY_MS],
      (item, _, args) => {
        args.push(
          item.jobId,
          item.leaseToken,
          item.outcome,
          item.outcome === 'succeeded' ? JSON.stringify(item.result ?? null) : JSON.stringify(item.error),
          item.outcome === 'failed' && item.error.retryable ? '1' : '0',
          item.startedAt === undefined ? '' : String(item.startedAt),
          String(this.random()),
        );
      },
    );
    const results = this.results(items, replies, 3);
    let dueAt = Infinity;
    for (let i = 0; i < items.length; i++) {
      const runAt = replies[i * 3 + 2];
      if (runAt !== undefined && runAt !== null && runAt !== '') dueAt = Math.min(dueAt, Number(runAt));
    }
    if (results.some((r) => r.ok)) this.emit({ type: 'changed', ...(dueAt < Infinity && { dueAt }) });
    return results;
  }

  async release(items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[]): Promise<TransitionResult[]> {
    checkReleaseItems(items);
    const now = this.clock();
    const replies = await this.batchScript(items, 'release', this.keys.jobIndexes, [now], (item, _, args) => {
      args.push(item.jobId, item.leaseToken, JSON.stringify(item.error), item.leaseExpiresBy ?? '');
    });
    const results = this.results(items, replies);
    if (results.some((r) => r.ok)) this.emit({ type: 'changed' });
    return results;
  }

  async appendLogs(chunks: LogChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const jobs = await appendLogs(this.perJobContext, chunks, this.logTailBytes, this.clock());
    for (const jobId of jobs) this.emit({ type: 'logs', jobId });
  }

  async getLogs(jobId: string, afterSeq = 0, limit?: number): Promise<StoredLogChunk[]> {
    return getLogs(this.client, this.keys, jobId, afterSeq, logPageLimit(limit));
  }

  async deleteFinished(finishedBefore: number, limit: number, state?: FinalJobState): Promise<{ deleted: number }> {
    return deleteFinished(this.perJobContext, finishedBefore, limit, state);
  }

  // Coordination of many servers (coordination.ts).
  heartbeatScheduler = (id: string, ttlMs: number): Promise<string[]> =>
    this.coordination.heartbeatScheduler(id, ttlMs);
  removeScheduler = (id: string): Promise<void> => this.coordination.removeScheduler(id);
  claimShards = (owner: string, shards: number[], leaseMs: number): Promise<number[]> =>
    this.coordination.claimShards(owner, shards, leaseMs);
  shardLeases = (): Promise<ShardLease[]> => this.coordination.shardLeases();
  putAgents = (serverId: string, report: unknown, ttlMs: number): Promise<void> =>
    this.coordination.putAgents(serverId, report, ttlMs);
  agentReports = (): Promise<AgentReport[]> => this.coordination.agentReports();
  publish = (event: StoreEvent): Promise<void> => this.sent(event);
  /** Many servers share a Redis: nothing to claim. */
  claimServer = async (): Promise<void> => {};

  async registerTasks(tasks: TaskRoute[], ttlMs?: number): Promise<void> {
    const now = this.clock();
    if (await registerTasks(this.client, this.keys, tasks, routeExpiry(ttlMs, now), now)) this.emit({ type: 'routes' });
  }

  taskRoutes = (): Promise<StoredTaskRoute[]> => taskRoutes(this.client, this.keys, this.clock());
}

/** The jobs an enqueue created, for its event. */
function* createdJobs(results: readonly EnqueueResult[]): Iterable<Job> {
  for (const r of results) if (r.created) yield r.job;
}

export type { JobHash };
