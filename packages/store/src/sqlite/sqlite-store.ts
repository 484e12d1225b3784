import type { Workflows } from '../workflows.js';
import Database from 'better-sqlite3';
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
import type { RuntimeSamples } from '../runtime-samples.js';
import type { AgentReport, Coordination, ShardLease } from '../coordination.js';
import { StoreEvents } from '../events.js';
import type { OwnerLoad, OwnerUsageUnits } from '../fair-share.js';
import { logPageLimit } from '../rules/log-rules.js';
import { storeSettings } from '../rules/options.js';
import { routeExpiry } from '../rules/route-rules.js';
import { SqliteAccounts } from './accounts.js';
import { BackgroundCheckpoints } from './background-checkpoints.js';
import type { SqliteContext } from './context.js';
import { SqliteCoordination } from './coordination.js';
import * as fairShare from './fair-share.js';
import * as jobs from './jobs.js';
import * as leases from './leases.js';
import { appendLogs, getLogs } from './logs.js';
import { migrate } from './migrations.js';
import { SqliteRetention } from './retention.js';
import { SqliteRuntimes } from './runtimes.js';
import { liveRoutes, registerRoutes } from './routes.js';
import * as scheduling from './scheduling.js';
import { ServerClaim } from './server-claim.js';
import type { Statements } from './statements.js';
import { SQL } from './statements.js';
import type { WorkflowStatements } from './workflow-statements.js';
import { WORKFLOW_SQL } from './workflow-statements.js';
import { addSteps } from './workflow-growth.js';
import * as workflows from './workflows.js';

export { WAL_TRUNCATE_AFTER_DELETES } from './retention.js';

/**
 * The embedded backend: one SQLite file in WAL mode (or memory). better-sqlite3 is
 * synchronous, so each contract call is one transaction that no other caller interleaves
 * with; the async signature is the contract's, for the networked backends. This class opens
 * the database and wires the domain modules (jobs, scheduling, leases, logs, retention,
 * routes, coordination, accounts, fair share, runtime history), which hold the logic.
 */
export class SqliteStore implements Store, Coordination {
  readonly backend = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly logTailBytes: number;
  private readonly events = new StoreEvents();
  private context: SqliteContext | null = null;
  private coordination: SqliteCoordination | null = null;
  private retention: SqliteRetention | null = null;
  private accounts: SqliteAccounts | null = null;
  private runtimes: SqliteRuntimes | null = null;
  private closed = false;
  private checkpoints: BackgroundCheckpoints | null = null;
  private claim: ServerClaim | null = null;

  /** @param path a file path, or `:memory:` */
  constructor(
    private readonly path: string,
    options: StoreOptions = {},
  ) {
    ({ clock: this.clock, random: this.random, logTailBytes: this.logTailBytes } = storeSettings(options));
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash (kill -9); only an OS crash can lose the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // A 64 MiB page cache: cache misses showed in the profile of a busy embedded server.
    this.db.pragma('cache_size = -65536');
    if (path !== ':memory:') {
      // Checkpoints (which fsync) run in a worker thread: done inline they stalled the event
      // loop for tens of milliseconds. SQLite's own checkpoints remain the fallback.
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpoints = new BackgroundCheckpoints(path, () => {
        this.db.pragma('wal_autocheckpoint = 1000');
      });
    }
  }

  async init(): Promise<void> {
    migrate(this.db, this.clock());
    this.coordination = new SqliteCoordination(this.db);
    const sql = Object.fromEntries(
      Object.entries(SQL).map(([name, text]) => [name, this.db.prepare(text)]),
    ) as Statements;
    const wf = Object.fromEntries(
      Object.entries(WORKFLOW_SQL).map(([name, text]) => [name, this.db.prepare(text)]),
    ) as WorkflowStatements;
    this.context = { db: this.db, sql, wf, clock: this.clock, random: this.random, events: this.events };
    this.retention = new SqliteRetention(this.context, this.path, this.checkpoints);
    this.accounts = new SqliteAccounts(this.context);
    this.runtimes = new SqliteRuntimes(this.context);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.checkpoints?.stop();
    this.db.close();
    // Last: another server may take the file once this one is done with it.
    this.claim?.release();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  subscribe(listener: Parameters<Store['subscribe']>[0]): () => void {
    return this.events.subscribe(listener);
  }

  private get ctx(): SqliteContext {
    if (!this.context) throw new Error('store used before init()');
    return this.context;
  }

  // Jobs (jobs.ts).
  enqueue = async (batch: NewJob[]): Promise<EnqueueResult[]> => jobs.enqueue(this.ctx, batch);
  getJob = async (id: string): Promise<Job | null> => jobs.getJob(this.ctx, id);
  getAttempts = async (id: string): Promise<JobAttempt[]> => jobs.getAttempts(this.ctx, id);
  listJobs = async (query: JobListQuery): Promise<JobPage> => jobs.listJobs(this.ctx, query);
  queueStats = async (): Promise<QueueStats[]> => jobs.queueStats(this.ctx);
  cancel = async (id: string): Promise<Job> => jobs.cancel(this.ctx, id);

  // Scheduling (scheduling.ts).
  promoteDue = async (): Promise<{ promoted: number; nextRunAt: number | null }> => scheduling.promoteDue(this.ctx);
  pending = async (requests: PendingRequest[]): Promise<PendingJob[]> => scheduling.pending(this.ctx, requests);
  assign = async (placements: Placement[], leaseMs: number): Promise<JobAssignment[]> =>
    scheduling.assign(this.ctx, placements, leaseMs);
  expireLeases = async (): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> =>
    scheduling.expireLeases(this.ctx);

  // Lease-checked transitions (leases.ts).
  start = async (items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]> =>
    leases.start(this.ctx, items, leaseMs);
  heartbeat = async (items: (LeaseRef & { progress?: number })[], leaseMs: number): Promise<TransitionResult[]> =>
    leases.heartbeat(this.ctx, items, leaseMs);
  complete = async (items: Completion[]): Promise<TransitionResult[]> => leases.complete(this.ctx, items);
  release = async (items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[]): Promise<TransitionResult[]> =>
    leases.release(this.ctx, items);

  // Job output (logs.ts).
  async appendLogs(chunks: LogChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const { db, sql } = this.ctx;
    const jobIds = db.transaction(() => appendLogs(sql, chunks, this.clock(), this.logTailBytes))();
    for (const jobId of jobIds) this.events.emit({ type: 'logs', jobId });
  }

  async getLogs(jobId: string, afterSeq?: number, limit?: number): Promise<StoredLogChunk[]> {
    return getLogs(this.ctx.sql, jobId, afterSeq ?? 0, logPageLimit(limit));
  }

  // Retention (retention.ts).
  async deleteFinished(finishedBefore: number, limit: number, state?: FinalJobState): Promise<{ deleted: number }> {
    if (!this.retention) throw new Error('store used before init()');
    return this.retention.deleteFinished(finishedBefore, limit, state);
  }

  // Coordination of many servers (coordination.ts); one process normally owns the file.
  private get coord(): SqliteCoordination {
    if (!this.coordination) throw new Error('store used before init()');
    return this.coordination;
  }

  heartbeatScheduler = async (id: string, ttlMs: number): Promise<string[]> =>
    this.coord.heartbeatScheduler(id, ttlMs, this.clock());
  removeScheduler = async (id: string): Promise<void> => this.coord.removeScheduler(id);
  claimShards = async (owner: string, shards: number[], leaseMs: number): Promise<number[]> =>
    this.coord.claimShards(owner, shards, leaseMs, this.clock());
  shardLeases = async (): Promise<ShardLease[]> => this.coord.shardLeases(this.clock());
  putAgents = async (serverId: string, report: unknown, ttlMs: number): Promise<void> =>
    this.coord.putAgents(serverId, report, ttlMs, this.clock());
  agentReports = async (): Promise<AgentReport[]> => this.coord.agentReports(this.clock());
  publish = async (event: StoreEvent): Promise<void> => this.events.emit(event);

  /** One server per file (see server-claim.ts); a store in memory is its process's alone. */
  async claimServer(serverId: string): Promise<void> {
    if (this.path !== ':memory:' && !this.closed) this.claim ??= ServerClaim.take(this.path, serverId);
  }

  // Task routes (routes.ts).
  async registerTasks(tasks: TaskRoute[], ttlMs?: number): Promise<void> {
    const now = this.clock();
    if (registerRoutes(this.db, this.ctx.sql, tasks, routeExpiry(ttlMs, now), now))
      this.events.emit({ type: 'routes' });
  }

  taskRoutes = async (): Promise<StoredTaskRoute[]> => liveRoutes(this.ctx.sql, this.clock());

  // Accounts, tokens, quotas (accounts.ts).
  private get acc(): SqliteAccounts {
    if (!this.accounts) throw new Error('store used before init()');
    return this.accounts;
  }

  createUser: Accounts['createUser'] = (user) => this.acc.createUser(user);
  getUser: Accounts['getUser'] = (name) => this.acc.getUser(name);
  updateUser: Accounts['updateUser'] = (name, changes) => this.acc.updateUser(name, changes);
  listUsers: Accounts['listUsers'] = () => this.acc.listUsers();
  deleteUser: Accounts['deleteUser'] = (name) => this.acc.deleteUser(name);
  createToken: Accounts['createToken'] = (token) => this.acc.createToken(token);
  getToken: Accounts['getToken'] = (id) => this.acc.getToken(id);
  listTokens: Accounts['listTokens'] = (user) => this.acc.listTokens(user);
  deleteToken: Accounts['deleteToken'] = (id) => this.acc.deleteToken(id);
  getQuota: Accounts['getQuota'] = (user) => this.acc.getQuota(user);
  setQuota: Accounts['setQuota'] = (user, quota) => this.acc.setQuota(user, quota);
  ownerUsage: Accounts['ownerUsage'] = (owner) => this.acc.ownerUsage(owner);

  // Fair share and preemption (fair-share.ts).
  ownerLoads = async (): Promise<OwnerLoad[]> => fairShare.ownerLoads(this.ctx);
  addUsage = async (entries: OwnerUsageUnits[], halfLifeMs: number): Promise<void> =>
    fairShare.addUsage(this.ctx, entries, halfLifeMs);
  usage = async (halfLifeMs: number): Promise<OwnerUsageUnits[]> => fairShare.usage(this.ctx, halfLifeMs);
  preempt = async (items: (LeaseRef & { message: string })[]): Promise<TransitionResult[]> =>
    fairShare.preempt(this.ctx, items);

  // Runtime history for learned estimates (runtimes.ts).
  private get rt(): SqliteRuntimes {
    if (!this.runtimes) throw new Error('store used before init()');
    return this.runtimes;
  }

  recordRuntimes: RuntimeSamples['recordRuntimes'] = (samples) => this.rt.recordRuntimes(samples);
  runtimeSamples: RuntimeSamples['runtimeSamples'] = (keys) => this.rt.runtimeSamples(keys);
  runtimeClasses: RuntimeSamples['runtimeClasses'] = (after, limit) => this.rt.runtimeClasses(after, limit);

  // Workflows (workflows.ts; advancing is workflow-advance.ts, inside the transitions).
  createWorkflow: Workflows['createWorkflow'] = async (w) => workflows.createWorkflow(this.ctx, w);
  getWorkflow: Workflows['getWorkflow'] = async (id) => workflows.getWorkflow(this.ctx, id);
  listWorkflows: Workflows['listWorkflows'] = async (q) => workflows.listWorkflows(this.ctx, q);
  workflowSteps: Workflows['workflowSteps'] = async (id, page) => workflows.workflowSteps(this.ctx, id, page);
  cancelWorkflow: Workflows['cancelWorkflow'] = async (id) => workflows.cancelWorkflow(this.ctx, id);
  retryWorkflow: Workflows['retryWorkflow'] = async (id, from) => workflows.retryWorkflow(this.ctx, id, from);
  addSteps: Workflows['addSteps'] = async (id, by, steps) => addSteps(this.ctx, id, by, steps);
}
