import { BatonError } from '@baton/core';
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
import type { Redis } from 'ioredis';
import { Cluster } from 'ioredis';
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
import type { Accounts } from '../accounts.js';
import type { OwnerLoad, OwnerUsageUnits } from '../fair-share.js';
import type { AgentReport, Coordination, ShardLease } from '../coordination.js';
import type { Workflows } from '../workflows.js';
import type { RuntimeSamples } from '../runtime-samples.js';
import { logPageLimit } from '../rules/log-rules.js';
import { storeSettings } from '../rules/options.js';
import { routeExpiry } from '../rules/route-rules.js';
import { redisAccounts } from './accounts.js';
import type { RedisStoreConfig } from './config.js';
import { connectClient } from './connection.js';
import * as fairShare from './fair-share.js';
import type { RedisContext } from './context.js';
import { redisContext } from './context.js';
import { RedisCoordination } from './coordination.js';
import type { JobHash } from './job-hash.js';
import * as jobs from './jobs.js';
import { RedisKeys } from './keys.js';
import * as leases from './leases.js';
import { listJobs, queueStats } from './listing.js';
import { appendLogs, getLogs } from './logs.js';
import { RedisEvents } from './pubsub.js';
import { deleteFinished } from './retention.js';
import { registerTasks, taskRoutes } from './routes.js';
import { redisRuntimes } from './runtimes.js';
import * as scheduling from './scheduling.js';
import { openLayout } from './schema.js';
import { defineScripts } from './scripts.js';
import { failFastWhileDown } from './unavailable.js';
import { redisWorkflows } from './workflows.js';

type Client = Redis | Cluster;

/**
 * The Redis backend. Every state transition is one Lua script (scripts/*.lua) that takes a
 * whole batch of jobs in one call (one round trip), each job's change atomic. Times come from
 * the store's clock, passed to the scripts, never from Redis. Events go to local listeners at
 * once and to other processes by PUBLISH on the prefix's channel (pubsub.ts). This class
 * connects and wires the domain modules (jobs, listing, scheduling, leases, logs, retention,
 * routes, coordination, accounts, fair share), which hold the logic.
 */
export class RedisStore implements Store, Coordination {
  readonly backend = 'redis' as const;
  readonly keys: RedisKeys;
  private readonly client: Client;
  private readonly events: RedisEvents;
  private readonly ctx: RedisContext;
  private readonly coordination: RedisCoordination;
  private readonly accounts: Accounts;
  private readonly workflows: Workflows;
  private readonly runtimes: RuntimeSamples;
  private subscriber: Client | null = null;
  private opened = false;
  private closed = false;

  constructor(
    private readonly config: RedisStoreConfig,
    options: StoreOptions = {},
  ) {
    const settings = storeSettings(options);
    this.keys = new RedisKeys(config.prefix);
    // Opening fails fast when the server cannot be reached; once open, the client reconnects.
    this.client = connectClient(config, () => this.opened && !this.closed);
    this.events = new RedisEvents(this.client, this.keys.channel);
    this.ctx = redisContext(this.client, this.keys, settings, (event) => this.events.emit(event));
    this.coordination = new RedisCoordination(this.client, this.keys, settings.clock);
    this.accounts = redisAccounts(this.ctx);
    this.workflows = redisWorkflows(this.ctx);
    this.runtimes = redisRuntimes(this.ctx);
  }

  async init(): Promise<void> {
    const where = `${this.config.host}:${this.config.port}`;
    try {
      await this.client.connect();
      defineScripts(this.client);
      await openLayout(this.ctx);
      const subscriber: Client = this.client instanceof Cluster ? this.client.duplicate() : this.client.duplicate();
      subscriber.on('error', () => {});
      this.subscriber = subscriber;
      await subscriber.connect();
      await this.events.listen(subscriber);
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

  // Jobs (jobs.ts, listing.ts).
  enqueue = (batch: NewJob[]): Promise<EnqueueResult[]> => jobs.enqueue(this.ctx, batch);
  getJob = (id: string): Promise<Job | null> => jobs.getJob(this.ctx, id);
  getAttempts = (id: string): Promise<JobAttempt[]> => jobs.getAttempts(this.ctx, id);
  listJobs = (query: JobListQuery): Promise<JobPage> => listJobs(this.ctx, query);
  queueStats = (): Promise<QueueStats[]> => queueStats(this.ctx);
  cancel = (id: string): Promise<Job> => jobs.cancel(this.ctx, id);

  // Scheduling (scheduling.ts).
  promoteDue = (): Promise<{ promoted: number; nextRunAt: number | null }> => scheduling.promoteDue(this.ctx);
  pending = (requests: PendingRequest[]): Promise<PendingJob[]> => scheduling.pending(this.ctx, requests);
  assign = (placements: Placement[], leaseMs: number): Promise<JobAssignment[]> =>
    scheduling.assign(this.ctx, placements, leaseMs);
  expireLeases = (): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> =>
    scheduling.expireLeases(this.ctx);

  // Lease-checked transitions (leases.ts).
  start = (items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]> => leases.start(this.ctx, items, leaseMs);
  heartbeat = (items: (LeaseRef & { progress?: number })[], leaseMs: number): Promise<TransitionResult[]> =>
    leases.heartbeat(this.ctx, items, leaseMs);
  complete = (items: Completion[]): Promise<TransitionResult[]> => leases.complete(this.ctx, items);
  release = (items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[]): Promise<TransitionResult[]> =>
    leases.release(this.ctx, items);

  // Job output (logs.ts) and retention (retention.ts).
  async appendLogs(chunks: LogChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const touched = await appendLogs(this.ctx, chunks, this.ctx.logTailBytes, this.ctx.clock());
    for (const jobId of touched) this.events.emit({ type: 'logs', jobId });
  }

  async getLogs(jobId: string, afterSeq = 0, limit?: number): Promise<StoredLogChunk[]> {
    return getLogs(this.client, this.keys, jobId, afterSeq, logPageLimit(limit));
  }

  deleteFinished = (finishedBefore: number, limit: number, state?: FinalJobState): Promise<{ deleted: number }> =>
    deleteFinished(this.ctx, finishedBefore, limit, state);

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
  publish = (event: StoreEvent): Promise<void> => this.events.sent(event);
  /** Many servers share a Redis: nothing to claim. */
  claimServer = async (): Promise<void> => {};

  // Task routes (routes.ts).
  async registerTasks(tasks: TaskRoute[], ttlMs?: number): Promise<void> {
    const now = this.ctx.clock();
    if (await registerTasks(this.client, this.keys, tasks, routeExpiry(ttlMs, now), now)) {
      this.events.emit({ type: 'routes' });
    }
  }

  taskRoutes = (): Promise<StoredTaskRoute[]> => taskRoutes(this.client, this.keys, this.ctx.clock());

  // Accounts, tokens, quotas (accounts.ts); built in the constructor, once the context is.
  createUser: Accounts['createUser'] = (user) => this.accounts.createUser(user);
  getUser: Accounts['getUser'] = (name) => this.accounts.getUser(name);
  updateUser: Accounts['updateUser'] = (name, changes) => this.accounts.updateUser(name, changes);
  listUsers: Accounts['listUsers'] = () => this.accounts.listUsers();
  deleteUser: Accounts['deleteUser'] = (name) => this.accounts.deleteUser(name);
  createToken: Accounts['createToken'] = (token) => this.accounts.createToken(token);
  getToken: Accounts['getToken'] = (id) => this.accounts.getToken(id);
  listTokens: Accounts['listTokens'] = (user) => this.accounts.listTokens(user);
  deleteToken: Accounts['deleteToken'] = (id) => this.accounts.deleteToken(id);
  getQuota: Accounts['getQuota'] = (user) => this.accounts.getQuota(user);
  setQuota: Accounts['setQuota'] = (user, quota) => this.accounts.setQuota(user, quota);
  ownerUsage: Accounts['ownerUsage'] = (owner) => this.accounts.ownerUsage(owner);

  // Fair share and preemption (fair-share.ts).
  ownerLoads = (): Promise<OwnerLoad[]> => fairShare.ownerLoads(this.ctx);
  addUsage = (entries: OwnerUsageUnits[], halfLifeMs: number): Promise<void> =>
    fairShare.addUsage(this.ctx, entries, halfLifeMs);
  usage = (halfLifeMs: number): Promise<OwnerUsageUnits[]> => fairShare.usage(this.ctx, halfLifeMs);
  preempt = (items: (LeaseRef & { message: string })[]): Promise<TransitionResult[]> =>
    fairShare.preempt(this.ctx, items);

  // Runtime history for learned estimates (runtimes.ts).
  recordRuntimes: RuntimeSamples['recordRuntimes'] = (samples) => this.runtimes.recordRuntimes(samples);
  runtimeSamples: RuntimeSamples['runtimeSamples'] = (keys) => this.runtimes.runtimeSamples(keys);
  runtimeClasses: RuntimeSamples['runtimeClasses'] = (after, limit) => this.runtimes.runtimeClasses(after, limit);

  // Workflows (workflows.ts; advancing is in the transition scripts, scripts/lib/workflow.lua).
  createWorkflow: Workflows['createWorkflow'] = (w) => this.workflows.createWorkflow(w);
  getWorkflow: Workflows['getWorkflow'] = (id) => this.workflows.getWorkflow(id);
  listWorkflows: Workflows['listWorkflows'] = (q) => this.workflows.listWorkflows(q);
  workflowSteps: Workflows['workflowSteps'] = (id, page) => this.workflows.workflowSteps(id, page);
  cancelWorkflow: Workflows['cancelWorkflow'] = (id) => this.workflows.cancelWorkflow(id);
  retryWorkflow: Workflows['retryWorkflow'] = (id, from) => this.workflows.retryWorkflow(id, from);
  addSteps: Workflows['addSteps'] = (id, by, steps) => this.workflows.addSteps(id, by, steps);
}

export type { JobHash };
