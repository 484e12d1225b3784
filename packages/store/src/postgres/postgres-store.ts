import pg from 'pg';
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
import type { FairShareStore } from '../fair-share.js';
import type { RuntimeSamples } from '../runtime-samples.js';
import type { AgentReport, Coordination, ShardLease } from '../coordination.js';
import type { Workflows } from '../workflows.js';
import { storeSettings } from '../rules/options.js';
import { routeExpiry } from '../rules/route-rules.js';
import { guardErrors } from './checked-out.js';
import { clientConfig, connectError } from './connection.js';
import type { PostgresContext } from './context.js';
import { postgresContext } from './context.js';
import { postgresAccounts } from './accounts.js';
import { postgresFairShare } from './fair-share.js';
import { postgresRuntimes } from './runtimes.js';
import { PostgresCoordination } from './coordination.js';
import * as jobs from './jobs.js';
import * as leases from './leases.js';
import * as logs from './logs.js';
import { migrate } from './migrations.js';
import { EventRelay } from './notifications.js';
import { deleteFinished } from './retention.js';
import { liveRoutes, registerRoutes } from './routes.js';
import * as scheduling from './scheduling.js';
import type { PostgresUrl } from './url.js';
import * as workflowControl from './workflow-control.js';
import * as workflowGrowth from './workflow-growth.js';
import * as workflows from './workflows.js';

/**
 * The shared backend: jobs in a hash-partitioned table of one PostgreSQL schema, reached
 * through a `pg.Pool`. Every contract call is one statement or one transaction, whatever the
 * batch size; claims use `FOR UPDATE SKIP LOCKED`. Events travel to other stores on the same
 * schema by NOTIFY (see {@link EventRelay}). Every time comes from the store's clock. This
 * class connects and wires the domain modules (jobs, scheduling, leases, logs, retention,
 * routes, coordination, accounts, fair share, runtime history, workflows), which hold the logic and the SQL (sql/).
 */
export class PostgresStore implements Store, Coordination {
  readonly backend = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly relay: EventRelay;
  private readonly coordination: PostgresCoordination;
  private readonly ctx: PostgresContext;
  private closed = false;

  constructor(
    private readonly url: PostgresUrl,
    options: StoreOptions = {},
  ) {
    const settings = storeSettings(options);
    const config = clientConfig(url);
    this.pool = new pg.Pool({ ...config, max: url.poolSize });
    // An idle connection that drops is replaced on next use; without a handler it would crash.
    this.pool.on('error', () => undefined);
    this.relay = new EventRelay(this.pool, config, url.schema);
    this.coordination = new PostgresCoordination(this.pool, this.relay, settings.clock);
    this.ctx = postgresContext(this.pool, this.relay, settings);
    this.accounts = postgresAccounts(this.ctx);
    this.fairShare = postgresFairShare(this.ctx);
    this.runtimes = postgresRuntimes(this.ctx);
  }

  async init(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw connectError(this.url, err);
    }
    const release = guardErrors(client);
    try {
      await migrate(client, this.url.schema, this.ctx.clock());
    } finally {
      release();
    }
    await this.relay.listen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.relay.close();
    await this.pool.end();
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  subscribe(listener: Parameters<Store['subscribe']>[0]): () => void {
    return this.relay.subscribe(listener);
  }

  // Jobs (jobs.ts).
  enqueue = (batch: NewJob[]): Promise<EnqueueResult[]> => jobs.enqueue(this.ctx, batch);
  getJob = (id: string): Promise<Job | null> => jobs.getJob(this.ctx, id);
  getAttempts = (id: string): Promise<JobAttempt[]> => jobs.getAttempts(this.ctx, id);
  listJobs = (query: JobListQuery): Promise<JobPage> => jobs.listJobs(this.ctx, query);
  queueStats = (): Promise<QueueStats[]> => jobs.queueStats(this.ctx);
  cancel = (id: string): Promise<Job> => jobs.cancel(this.ctx, id);

  // Scheduling (scheduling.ts).
  promoteDue = (): Promise<{ promoted: number; nextRunAt: number | null }> => scheduling.promoteDue(this.ctx);
  pending = (requests: PendingRequest[]): Promise<PendingJob[]> => scheduling.pending(this.ctx, requests);
  assign = (placements: Placement[], leaseMs: number): Promise<JobAssignment[]> =>
    scheduling.assign(this.ctx, placements, leaseMs);
  expireLeases = (): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> =>
    scheduling.expireLeases(this.ctx);

  // Lease-checked transitions (leases.ts, settle.ts).
  start = (items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]> => leases.start(this.ctx, items, leaseMs);
  heartbeat = (items: (LeaseRef & { progress?: number })[], leaseMs: number): Promise<TransitionResult[]> =>
    leases.heartbeat(this.ctx, items, leaseMs);
  complete = (items: Completion[]): Promise<TransitionResult[]> => leases.complete(this.ctx, items);
  release = (items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[]): Promise<TransitionResult[]> =>
    leases.release(this.ctx, items);

  // Job output (logs.ts) and retention (retention.ts).
  appendLogs = (chunks: LogChunk[]): Promise<void> => logs.appendLogs(this.ctx, chunks);
  getLogs = (jobId: string, afterSeq?: number, limit?: number): Promise<StoredLogChunk[]> =>
    logs.getLogs(this.ctx, jobId, afterSeq, limit);
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
  publish = (event: StoreEvent): Promise<void> => this.coordination.publish(event);
  /** Many servers share a PostgreSQL database: nothing to claim. */
  claimServer = async (): Promise<void> => {};

  // Task routes (routes.ts).
  async registerTasks(tasks: TaskRoute[], ttlMs?: number): Promise<void> {
    const now = this.ctx.clock();
    if (await registerRoutes(this.pool, tasks, routeExpiry(ttlMs, now), now)) this.relay.publish({ type: 'routes' });
  }

  taskRoutes = (): Promise<StoredTaskRoute[]> => liveRoutes(this.pool, this.ctx.clock());

  // Accounts, tokens, quotas (accounts.ts; the quota check of assign in quotas.ts).
  private readonly accounts: Accounts;
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
  private readonly fairShare: FairShareStore;
  ownerLoads: FairShareStore['ownerLoads'] = () => this.fairShare.ownerLoads();
  addUsage: FairShareStore['addUsage'] = (entries, halfLifeMs) => this.fairShare.addUsage(entries, halfLifeMs);
  usage: FairShareStore['usage'] = (halfLifeMs) => this.fairShare.usage(halfLifeMs);
  preempt: FairShareStore['preempt'] = (items) => this.fairShare.preempt(items);

  // Runtime history for learned estimates (runtimes.ts).
  private readonly runtimes: RuntimeSamples;
  recordRuntimes: RuntimeSamples['recordRuntimes'] = (samples) => this.runtimes.recordRuntimes(samples);
  runtimeSamples: RuntimeSamples['runtimeSamples'] = (keys) => this.runtimes.runtimeSamples(keys);
  runtimeClasses: RuntimeSamples['runtimeClasses'] = (after, limit) => this.runtimes.runtimeClasses(after, limit);

  // Workflows (workflows.ts, workflow-control.ts, workflow-growth.ts; advancing in workflow-advance.ts).
  createWorkflow: Workflows['createWorkflow'] = (w) => workflows.createWorkflow(this.ctx, w);
  getWorkflow: Workflows['getWorkflow'] = (id) => workflows.getWorkflow(this.ctx, id);
  listWorkflows: Workflows['listWorkflows'] = (q) => workflows.listWorkflows(this.ctx, q);
  workflowSteps: Workflows['workflowSteps'] = (id, page) => workflows.workflowSteps(this.ctx, id, page);
  cancelWorkflow: Workflows['cancelWorkflow'] = (id) => workflowControl.cancelWorkflow(this.ctx, id);
  retryWorkflow: Workflows['retryWorkflow'] = (id, from) => workflowControl.retryWorkflow(this.ctx, id, from);
  addSteps: Workflows['addSteps'] = (id, by, steps) => workflowGrowth.addSteps(this.ctx, id, by, steps);
}
