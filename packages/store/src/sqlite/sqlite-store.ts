import Database from 'better-sqlite3';
import type {
  Completion,
  Job,
  JobAssignment,
  JobAttempt,
  JobError,
  JobState,
  LeaseRef,
  LogChunk,
  NewJob,
  PendingJob,
  Placement,
  TransitionResult,
} from '@baton/core';
import { ConflictError, FINAL_STATES, LEASED_STATES, NotFoundError, newLeaseToken, priorityRank } from '@baton/core';
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
import { SqliteCoordination } from './coordination.js';
import { checkReleaseItems, leaseOf, refusalFor, refusalOfUnchanged } from '../rules/lease-rules.js';
import { retentionArgs } from '../rules/retention-rules.js';
import { QueueStatsTally, listFilter, pageOf } from '../rules/listing-rules.js';
import { enqueuedEvent, initialState } from '../rules/enqueue-rules.js';
import { completionEnd, leaseExpiredError, releaseEnd } from '../rules/attempt-rules.js';
import { askedPending } from '../rules/scheduling-rules.js';
import { storeSettings } from '../rules/options.js';
import { BackgroundCheckpoints } from './background-checkpoints.js';
import { appendLogs, getLogs } from './logs.js';
import { liveRoutes, registerRoutes } from './routes.js';
import { ServerClaim } from './server-claim.js';
import { routeExpiry } from '../rules/route-rules.js';
import { logPageLimit } from '../rules/log-rules.js';
import { migrate } from './migrations.js';
import type { AssignedRow, AttemptRow, JobRow, PendingRow } from './rows.js';
import {
  assignedFromRow,
  attemptFromRow,
  gpusToJson,
  jobFromRow,
  pendingFromRow,
  rowFromNewJob,
  toJson,
} from './rows.js';
import type { Statements } from './statements.js';
import { SQL } from './statements.js';

/**
 * Jobs deleteFinished removes before the WAL is truncated: a deletion that large leaves a WAL
 * of tens of megabytes, which a checkpoint rewinds but never shrinks.
 */
export const WAL_TRUNCATE_AFTER_DELETES = 10_000;

/** Jobs of one state deleteFinished looks at, oldest created first (see statements.ts). */
const RETENTION_SCAN = 10_000;

/**
 * The embedded backend: one SQLite file in WAL mode (or memory). better-sqlite3 is
 * synchronous, so each contract call is one transaction that no other caller interleaves
 * with; the async signature is the contract's, for the networked backends.
 */
export class SqliteStore implements Store, Coordination {
  readonly backend = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly logTailBytes: number;
  private readonly events = new StoreEvents();
  private coordination: SqliteCoordination | null = null;
  private statements: Statements | null = null;
  private closed = false;
  private checkpoints: BackgroundCheckpoints | null = null;
  private claim: ServerClaim | null = null;
  /** Jobs deleteFinished removed since the WAL was last truncated. */
  private deletedSinceTruncate = 0;

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
    this.statements = Object.fromEntries(
      Object.entries(SQL).map(([name, sql]) => [name, this.db.prepare(sql)]),
    ) as Statements;
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

  private get sql(): Statements {
    if (!this.statements) throw new Error('store used before init()');
    return this.statements;
  }

  private row(id: string): JobRow | undefined {
    return this.sql.getJob.get(id) as JobRow | undefined;
  }

  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    const now = this.clock();
    // One transaction: a key is looked up and claimed with no other writer in between, so a
    // repeat (in the batch or from before) is found here and there is nothing to send again.
    const results = this.db.transaction(() =>
      jobs.map((job): EnqueueResult => {
        if (job.idempotencyKey !== null) {
          const existing = this.sql.getByIdempotencyKey.get(job.owner, job.idempotencyKey) as JobRow | undefined;
          if (existing) return { job: jobFromRow(existing), created: false };
        }
        const row = this.sql.insertJob.get(rowFromNewJob(job, initialState(job, now))) as JobRow;
        return { job: jobFromRow(row), created: true };
      }),
    )();
    const event = enqueuedEvent(createdJobs(results));
    if (event) this.events.emit(event);
    return results;
  }

  async getJob(id: string): Promise<Job | null> {
    const row = this.row(id);
    return row ? jobFromRow(row) : null;
  }

  async getAttempts(id: string): Promise<JobAttempt[]> {
    return (this.sql.getAttempts.all({ id }) as AttemptRow[]).map(attemptFromRow);
  }

  async listJobs(query: JobListQuery): Promise<JobPage> {
    const q = listFilter(query);
    const filters: [string, unknown][] = [];
    if (q.state) filters.push([stateFilter(q.state), undefined]);
    if (q.queue) filters.push(['queue = ?', q.queue]);
    if (q.owner) filters.push(['owner = ?', q.owner]);
    if (q.before) filters.push(['id < ?', q.before]);
    const where = filters.map(([clause]) => clause);
    const params = filters.flatMap(([, value]) => (value === undefined ? [] : [value]));
    // Leased jobs are few (at most the fleet's slots) but SQLite cannot tell: without the hint
    // it would walk the whole table backwards to find them.
    const hint = q.state && LEASED_STATES.has(q.state) && !q.queue ? 'INDEXED BY jobs_leased' : '';
    const sql = `SELECT * FROM jobs ${hint} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit + 1) as JobRow[];
    return pageOf(rows.map(jobFromRow), q.limit);
  }

  async queueStats(): Promise<QueueStats[]> {
    const now = this.clock();
    const tally = new QueueStatsTally(now);
    for (const r of this.sql.routeQueues.all(now) as { queue: string }[]) tally.queue(r.queue);
    for (const r of this.sql.countByQueueState.all() as { queue: string; state: JobState; n: number }[]) {
      tally.count(r.queue, r.state, r.n);
    }
    for (const r of this.sql.oldestQueued.all() as { queue: string; run_at: number | null }[]) {
      if (r.run_at !== null) tally.waitingSince(r.queue, r.run_at);
    }
    return tally.result();
  }

  async cancel(id: string): Promise<Job> {
    const now = this.clock();
    const { job, agentId } = this.db.transaction(() => {
      const row = this.row(id);
      if (!row) throw new NotFoundError(`job ${id} not found`, 'JOB_NOT_FOUND');
      if (FINAL_STATES.has(row.state as JobState)) {
        throw new ConflictError(`job ${id} is already ${row.state}`, 'JOB_FINISHED', { state: row.state });
      }
      // A leased job's attempt ends with the job: its record is the job row (see getAttempts).
      return { job: jobFromRow(this.sql.cancelJob.get({ now, id }) as JobRow), agentId: row.agent_id };
    })();
    this.events.emit({ type: 'cancelled', jobId: id, agentId });
    return job;
  }

  async promoteDue(): Promise<{ promoted: number; nextRunAt: number | null }> {
    const now = this.clock();
    const result = this.db.transaction(() => {
      const promoted = this.sql.promoteDue.run(now, now).changes;
      const next = this.sql.nextRunAt.get() as { t: number | null };
      return { promoted, nextRunAt: next.t };
    })();
    // Other schedulers sharing the store learn of the new work too.
    if (result.promoted > 0) this.events.emit({ type: 'changed' });
    return result;
  }

  async pending(requests: PendingRequest[]): Promise<PendingJob[]> {
    const out: PendingJob[] = [];
    for (const { queue, limit, after } of askedPending(requests)) {
      if (!after) {
        for (const row of this.sql.pending.all(queue, limit) as PendingRow[]) out.push(pendingFromRow(row));
        continue;
      }
      const rank = priorityRank(after.priority);
      const level = after.priorityLevel;
      let left = limit;
      const take = (rows: PendingRow[]) => {
        for (const row of rows) out.push(pendingFromRow(row));
        left -= rows.length;
      };
      take(this.sql.pendingAfterInLevel.all(queue, rank, level, after.id, left) as PendingRow[]);
      if (left > 0) take(this.sql.pendingAfterInClass.all(queue, rank, level, left) as PendingRow[]);
      if (left > 0) take(this.sql.pendingAfterClass.all(queue, rank, left) as PendingRow[]);
    }
    return out;
  }

  async assign(placements: Placement[], leaseMs: number): Promise<JobAssignment[]> {
    const now = this.clock();
    return this.db.transaction(() => {
      const out: JobAssignment[] = [];
      for (const { jobId, agentId, gpus } of placements) {
        const leaseToken = newLeaseToken();
        const row = this.sql.assignJob.get({
          agentId,
          leaseToken,
          leaseExpiresAt: now + leaseMs,
          gpus: gpusToJson(gpus),
          now,
          id: jobId,
        }) as AssignedRow | undefined;
        if (!row) continue;
        out.push({ job: assignedFromRow(row, agentId, [...gpus]), leaseToken });
      }
      return out;
    })();
  }

  async expireLeases(): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> {
    const now = this.clock();
    const result = this.db.transaction(() => {
      const requeued: string[] = [];
      const failed: string[] = [];
      const expired = this.sql.expiredLeases.all(now) as JobRow[];
      for (const row of expired) {
        const error = toJson(leaseExpiredError(row.agent_id));
        if (row.attempts < row.max_attempts) {
          this.sql.finishAttempt.run({
            outcome: 'lease_expired',
            error,
            now,
            id: row.id,
            leaseToken: row.lease_token,
            startedAt: null,
          });
          this.sql.requeueExpired.run({ error, now, id: row.id });
          requeued.push(row.id);
        } else {
          this.sql.failJob.run({ error, now, id: row.id, startedAt: null });
          failed.push(row.id);
        }
      }
      const next = this.sql.nextLeaseExpiry.get() as { t: number | null };
      return { requeued, failed, nextExpiryAt: next.t };
    })();
    if (result.requeued.length > 0 || result.failed.length > 0) this.events.emit({ type: 'changed' });
    return result;
  }

  /** Why a lease-checked change to `item` matched no row. */
  private refusal(item: LeaseRef): TransitionResult {
    const row = this.sql.getLease.get(item.jobId) as { state: JobState; lease_token: string | null } | undefined;
    return refusalOfUnchanged(item, row ? { state: row.state, leaseToken: row.lease_token } : null);
  }

  async start(items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]> {
    const now = this.clock();
    return this.db.transaction(() =>
      items.map((item): TransitionResult => {
        const changed = this.sql.startJob.run({
          now,
          leaseExpiresAt: now + leaseMs,
          id: item.jobId,
          leaseToken: item.leaseToken,
        });
        if (changed.changes === 0) return this.refusal(item);
        return { jobId: item.jobId, ok: true, state: 'running' };
      }),
    )();
  }

  async heartbeat(items: (LeaseRef & { progress?: number })[], leaseMs: number): Promise<TransitionResult[]> {
    const now = this.clock();
    return this.db.transaction(() =>
      items.map((item): TransitionResult => {
        const row = this.sql.renewLease.get({
          leaseExpiresAt: now + leaseMs,
          progress: item.progress ?? null,
          now,
          id: item.jobId,
          leaseToken: item.leaseToken,
        }) as { state: JobState } | undefined;
        return row ? { jobId: item.jobId, ok: true, state: row.state } : this.refusal(item);
      }),
    )();
  }

  async complete(items: Completion[]): Promise<TransitionResult[]> {
    const now = this.clock();
    const retries = { dueAt: Infinity };
    const results = this.db.transaction(() => items.map((item) => this.completeOne(item, now, retries)))();
    if (results.some((r) => r.ok)) {
      this.events.emit({ type: 'changed', ...(retries.dueAt < Infinity && { dueAt: retries.dueAt }) });
    }
    return results;
  }

  private completeOne(item: Completion, now: number, retries: { dueAt: number }): TransitionResult {
    const { jobId, leaseToken } = item;
    const startedAt = item.startedAt ?? null;
    if (item.outcome === 'succeeded') {
      // The final attempt is recorded by the job row itself (see getAttempts): one write.
      const changed = this.sql.succeedJob.run({
        result: toJson(item.result ?? null),
        now,
        id: jobId,
        leaseToken,
        startedAt,
      });
      if (changed.changes === 0) return this.refusal(item);
      return { jobId, ok: true, state: 'succeeded' };
    }
    const row = this.row(jobId);
    const refusal = refusalFor(item, row ? { state: row.state as JobState, leaseToken: row.lease_token } : null);
    if (refusal || !row) return refusal ?? this.refusal(item);
    const error = toJson(item.error);
    const budget = { attempts: row.attempts, maxAttempts: row.max_attempts, backoffMs: row.backoff_ms };
    const end = completionEnd(item, budget, now, this.random);
    if (end.runAt !== null) {
      this.sql.finishAttempt.run({ outcome: 'failed', error, now, id: jobId, leaseToken, startedAt });
      this.sql.requeueJob.run(end.state, end.runAt, error, now, jobId);
      if (end.state === 'delayed') retries.dueAt = Math.min(retries.dueAt, end.runAt);
      return { jobId, ok: true, state: end.state };
    }
    // The final attempt is recorded by the job row (see getAttempts).
    this.sql.failJob.run({ error, now, id: jobId, startedAt });
    return { jobId, ok: true, state: 'failed' };
  }

  async release(items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[]): Promise<TransitionResult[]> {
    checkReleaseItems(items);
    const now = this.clock();
    const results = this.db.transaction(() =>
      items.map((item): TransitionResult => {
        const { jobId, leaseToken } = item;
        const row = this.row(jobId);
        const refusal = refusalFor(item, leaseOf(row));
        if (refusal || !row) return refusal ?? this.refusal(item);
        const error = toJson(item.error);
        const end = releaseEnd({ attempts: row.attempts, maxAttempts: row.max_attempts }, now);
        if (end.runAt !== null) {
          this.sql.finishAttempt.run({ outcome: 'failed', error, now, id: jobId, leaseToken, startedAt: null });
          this.sql.requeueJob.run(end.state, end.runAt, error, now, jobId);
          return { jobId, ok: true, state: end.state };
        }
        // The final attempt is recorded by the job row (see getAttempts).
        this.sql.failJob.run({ error, now, id: jobId, startedAt: null });
        return { jobId, ok: true, state: 'failed' };
      }),
    )();
    if (results.some((r) => r.ok)) this.events.emit({ type: 'changed' });
    return results;
  }

  async appendLogs(chunks: LogChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const now = this.clock();
    const jobIds = this.db.transaction(() => appendLogs(this.sql, chunks, now, this.logTailBytes))();
    for (const jobId of jobIds) this.events.emit({ type: 'logs', jobId });
  }

  async getLogs(jobId: string, afterSeq?: number, limit?: number): Promise<StoredLogChunk[]> {
    return getLogs(this.sql, jobId, afterSeq ?? 0, logPageLimit(limit));
  }

  async deleteFinished(finishedBefore: number, limit: number, state?: FinalJobState): Promise<{ deleted: number }> {
    const { before, limit: max, state: only } = retentionArgs(finishedBefore, limit, state);
    if (max === 0) return { deleted: 0 };
    const deleted = this.db.transaction(() => {
      const rows = only
        ? this.sql[`${only}Before`].all({ before, limit: max, scan: Math.max(RETENTION_SCAN, max) })
        : this.sql.finishedBefore.all({ before, limit: max });
      let n = 0;
      for (const { id } of rows as { id: string }[]) {
        this.sql.deleteAttempts.run(id);
        this.sql.deleteLogs.run(id);
        this.sql.deleteLogTail.run(id);
        n += this.sql.deleteFinishedJob.run(id).changes;
      }
      return n;
    })();
    this.deletedSinceTruncate += deleted;
    if (this.deletedSinceTruncate >= WAL_TRUNCATE_AFTER_DELETES) {
      this.deletedSinceTruncate = 0;
      await this.truncateWal();
    }
    return { deleted };
  }

  /**
   * Shrinks the write-ahead log back to nothing. A checkpoint only rewinds the WAL, so after a
   * large deletion it would keep its peak size on disk for good. In the checkpoint worker
   * when it runs (the fsyncs stay off the event loop); a WAL that readers still hold is left
   * for the next time.
   */
  private async truncateWal(): Promise<void> {
    if (this.path === ':memory:') return;
    if (this.checkpoints?.running) {
      await this.checkpoints.truncate();
      return;
    }
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Busy: the jobs are gone all the same; the next large deletion tries again.
    }
  }

  private get coord(): SqliteCoordination {
    if (!this.coordination) throw new Error('store used before init()');
    return this.coordination;
  }

  async heartbeatScheduler(id: string, ttlMs: number): Promise<string[]> {
    return this.coord.heartbeatScheduler(id, ttlMs, this.clock());
  }

  async removeScheduler(id: string): Promise<void> {
    this.coord.removeScheduler(id);
  }

  async claimShards(owner: string, shards: number[], leaseMs: number): Promise<number[]> {
    return this.coord.claimShards(owner, shards, leaseMs, this.clock());
  }

  async shardLeases(): Promise<ShardLease[]> {
    return this.coord.shardLeases(this.clock());
  }

  async putAgents(serverId: string, report: unknown, ttlMs: number): Promise<void> {
    this.coord.putAgents(serverId, report, ttlMs, this.clock());
  }

  async agentReports(): Promise<AgentReport[]> {
    return this.coord.agentReports(this.clock());
  }

  async publish(event: StoreEvent): Promise<void> {
    this.events.emit(event);
  }

  /** One server per file (see server-claim.ts); a store in memory is its process's alone. */
  async claimServer(serverId: string): Promise<void> {
    if (this.path !== ':memory:' && !this.closed) this.claim ??= ServerClaim.take(this.path, serverId);
  }

  async registerTasks(tasks: TaskRoute[], ttlMs?: number): Promise<void> {
    const now = this.clock();
    if (registerRoutes(this.db, this.sql, tasks, routeExpiry(ttlMs, now), now)) this.events.emit({ type: 'routes' });
  }

  async taskRoutes(): Promise<StoredTaskRoute[]> {
    return liveRoutes(this.sql, this.clock());
  }
}

/**
 * The state condition of a job listing, written as a literal so SQLite can use the partial
 * index of that state (it cannot match a partial index against a bound parameter).
 */
function stateFilter(state: JobState): string {
  return LEASED_STATES.has(state) ? `state IN ('assigned', 'running') AND state = '${state}'` : `state = '${state}'`;
}

/** The jobs an enqueue created, for its event. */
function* createdJobs(results: readonly EnqueueResult[]): Iterable<Job> {
  for (const r of results) if (r.created) yield r.job;
}
