import pg from 'pg';
import { guardErrors } from './checked-out.js';
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
import { BatonError, ConflictError, NotFoundError, newLeaseToken, priorityRank } from '@baton/core';
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
import { checkReleaseItems, refusalOfUnchanged } from '../rules/lease-rules.js';
import { retentionArgs } from '../rules/retention-rules.js';
import { QueueStatsTally, listFilter, pageOf } from '../rules/listing-rules.js';
import { enqueuedEvent, firstOfEachKey, idempotencyKeyOf, resendFreedKeys } from '../rules/enqueue-rules.js';
import { earliestRetry } from '../rules/attempt-rules.js';
import { askedPending } from '../rules/scheduling-rules.js';
import { storeSettings } from '../rules/options.js';
import { PostgresCoordination } from './coordination.js';
import { planLogs, trimThrough } from './logs.js';
import { logPageLimit } from '../rules/log-rules.js';
import { ident, migrate } from './migrations.js';
import { EventRelay } from './notifications.js';
import type { AssignedRow, AttemptRow, JobRow, PendingRow } from './rows.js';
import { assignedFromRow, attemptFromRow, enqueueColumns, gpusLiteral, jobFromRow, pendingFromRow } from './rows.js';
import type { SettleAction, SettleRow } from './settle.js';
import { completionDecision, decideBatch, releaseDecision, settleColumns } from './settle.js';
import * as jobsSql from './sql/jobs.js';
import * as leasesSql from './sql/leases.js';
import * as logsSql from './sql/logs.js';
import * as routesSql from './sql/routes.js';
import { liveRoutes, registerRoutes } from './routes.js';
import { routeExpiry } from '../rules/route-rules.js';
import * as schedulingSql from './sql/scheduling.js';
import type { Statement } from './sql/statement.js';
import type { PostgresUrl } from './url.js';
import { redact } from './url.js';

/** bigint (epoch ms, counts) as a number: every value Baton stores is a safe integer. */
const INT8_OID = 20;
const parseInt8 = (text: string): number => Number(text);
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? parseInt8
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/**
 * Planner settings of every connection (see ./sql/statement.ts). Each named statement is
 * planned once per connection, generically: with 16 partitions a custom plan per call costs
 * 1–3 ms of planning for a statement that runs in a fraction of that. Sequential scans are
 * off: every statement reaches jobs by key (ids, a queue's head, a due-time or lease-expiry
 * range) through an index, and the planner, which plans with statistics that lag a burst of
 * inserts (a new schema has none), would otherwise scan whole partitions it thinks are small.
 * JIT compilation is off: never worth its milliseconds for statements this short, and
 * a disabled plan node's made-up cost would trigger it.
 */
const PLANNER_SETTINGS = ['plan_cache_mode=force_generic_plan', 'enable_seqscan=off', 'jit=off'];

/** Network-level failures: the server is not there (yet), so a retry may succeed. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

/** A batch result of a lease-checked statement: the transition's new state, or the job as found. */
interface LeaseCheckedRow {
  ord: number;
  new_state: JobState | null;
  cur_state: JobState | null;
  cur_lease_token: string | null;
}

/**
 * The shared backend: jobs in a hash-partitioned table of one PostgreSQL schema, reached
 * through a `pg.Pool`. Every contract call is one statement or one transaction, whatever the
 * batch size; claims use `FOR UPDATE SKIP LOCKED`. Events travel to other stores on the same
 * schema by NOTIFY (see {@link EventRelay}). Every time comes from the store's clock.
 */
export class PostgresStore implements Store, Coordination {
  readonly backend = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly relay: EventRelay;
  private readonly coordination: PostgresCoordination;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly logTailBytes: number;
  private closed = false;

  constructor(
    private readonly url: PostgresUrl,
    options: StoreOptions = {},
  ) {
    ({ clock: this.clock, random: this.random, logTailBytes: this.logTailBytes } = storeSettings(options));
    const config: pg.ClientConfig = {
      connectionString: url.connectionString,
      // Unqualified names in every statement resolve to the store's schema.
      options: [`search_path=${ident(url.schema)}`, ...PLANNER_SETTINGS].map((s) => `-c ${s}`).join(' '),
      types: TYPES,
      connectionTimeoutMillis: 10_000,
    };
    this.pool = new pg.Pool({ ...config, max: url.poolSize });
    // An idle connection that drops is replaced on next use; without a handler it would crash.
    this.pool.on('error', () => undefined);
    this.relay = new EventRelay(this.pool, config, url.schema);
    this.coordination = new PostgresCoordination(this.pool, this.relay, this.clock);
  }

  async init(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.connectError(err);
    }
    const release = guardErrors(client);
    try {
      await migrate(client, this.url.schema, this.clock());
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

  private async run<R extends pg.QueryResultRow>(
    sql: Statement,
    values: unknown[],
    client: pg.ClientBase | pg.Pool = this.pool,
  ): Promise<R[]> {
    return (await client.query<R>({ name: sql.name, text: sql.text, values })).rows;
  }

  /** Runs `work` in a transaction on one pooled connection. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const release = guardErrors(client);
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      release();
    }
  }

  private connectError(err: unknown): Error {
    const code = (err as { code?: string }).code;
    const reason = err instanceof Error ? err.message : String(err);
    return new BatonError(
      'STORE_UNAVAILABLE',
      `cannot connect to PostgreSQL at ${redact(this.url.connectionString)}: ${reason}`,
      503,
      { code },
      code !== undefined && UNREACHABLE.has(code),
    );
  }

  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    if (jobs.length === 0) return [];
    const now = this.clock();
    // Only the first job of each (owner, key) in the batch is sent; repeats take its answer.
    const { sent, answer } = firstOfEachKey(jobs);
    const inserted = new Map<string, JobRow>();
    const existing = new Map<string, JobRow>();
    await resendFreedKeys(sent, async (todo) => {
      for (const row of await this.run<JobRow>(jobsSql.enqueue, [...enqueueColumns(todo), now])) {
        inserted.set(row.id, row);
      }
      const taken = todo.filter((j) => !inserted.has(j.id));
      if (taken.length === 0) return [];
      const rows = await this.run<JobRow>(jobsSql.getByIdempotencyKeys, [
        taken.map((j) => j.owner),
        taken.map((j) => j.idempotencyKey),
      ]);
      for (const row of rows)
        existing.set(idempotencyKeyOf({ owner: row.owner, idempotencyKey: row.idempotency_key ?? '' })!, row);
      return taken.filter((j) => !existing.has(idempotencyKeyOf(j)!));
    });
    const answers = sent.map((job): EnqueueResult => {
      const row = inserted.get(job.id);
      if (row) return { job: jobFromRow(row), created: true };
      const found = existing.get(idempotencyKeyOf(job)!);
      if (!found) throw new Error(`job ${job.id} was neither created nor found by its idempotency key`);
      return { job: jobFromRow(found), created: false };
    });
    const event = enqueuedEvent(createdJobs(inserted.values()));
    if (event) this.relay.publish(event);
    return answer(answers);
  }

  async getJob(id: string): Promise<Job | null> {
    const [row] = await this.run<JobRow>(jobsSql.getJob, [id]);
    return row ? jobFromRow(row) : null;
  }

  async getAttempts(id: string): Promise<JobAttempt[]> {
    return (await this.run<AttemptRow>(jobsSql.getAttempts, [id])).map(attemptFromRow);
  }

  async listJobs(query: JobListQuery): Promise<JobPage> {
    const q = listFilter(query);
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (value: unknown): string => {
      values.push(value);
      return `$${values.length}`;
    };
    // The state (checked by listFilter) is written as a literal so the planner can use that
    // state's partial index.
    if (q.state) where.push(`state = '${q.state}'`);
    if (q.queue) where.push(`queue = ${param(q.queue)}`);
    if (q.owner) where.push(`owner = ${param(q.owner)}`);
    if (q.before) where.push(`id < ${param(q.before)}`);
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id DESC LIMIT ${param(q.limit + 1)}`;
    const rows = (await this.pool.query<JobRow>(sql, values)).rows;
    return pageOf(rows.map(jobFromRow), q.limit);
  }

  async queueStats(): Promise<QueueStats[]> {
    const now = this.clock();
    const [routes, counts] = await Promise.all([
      this.run<{ queue: string }>(routesSql.liveRouteQueues, [now]),
      this.run<{ queue: string; state: JobState; n: number }>(jobsSql.countByQueueState, []),
    ]);
    const waiting = counts.filter((r) => r.state === 'queued').map((r) => r.queue);
    const oldest =
      waiting.length > 0 ? await this.run<{ queue: string; since: number }>(jobsSql.oldestQueued, [waiting]) : [];
    const tally = new QueueStatsTally(now);
    for (const r of routes) tally.queue(r.queue);
    for (const r of counts) tally.count(r.queue, r.state, r.n);
    for (const r of oldest) tally.waitingSince(r.queue, r.since);
    return tally.result();
  }

  async cancel(id: string): Promise<Job> {
    const now = this.clock();
    const [row] = await this.run<JobRow>(jobsSql.cancelJob, [now, id]);
    if (!row) {
      const [current] = await this.run<JobRow>(jobsSql.getJob, [id]);
      if (!current) throw new NotFoundError(`job ${id} not found`, 'JOB_NOT_FOUND');
      throw new ConflictError(`job ${id} is already ${current.state}`, 'JOB_FINISHED', { state: current.state });
    }
    // Cancelling keeps agent_id: it names the agent holding the job, which must stop.
    this.relay.publish({ type: 'cancelled', jobId: id, agentId: row.agent_id });
    return jobFromRow(row);
  }

  async promoteDue(): Promise<{ promoted: number; nextRunAt: number | null }> {
    const now = this.clock();
    const [row] = await this.run<{ promoted: number; next_run_at: number | null }>(schedulingSql.promoteDue, [
      now,
      schedulingSql.SWEEP_BATCH,
    ]);
    const promoted = row?.promoted ?? 0;
    // Other schedulers sharing the store learn of the new work too.
    if (promoted > 0) this.relay.publish({ type: 'changed' });
    return { promoted, nextRunAt: row?.next_run_at ?? null };
  }

  async pending(requests: PendingRequest[]): Promise<PendingJob[]> {
    const asked = askedPending(requests);
    const wanted = asked.filter((r) => !r.after);
    const paged = asked.filter((r) => r.after);
    // Heads and keyset pages are two statements, run side by side.
    const [heads, pages] = await Promise.all([
      wanted.length === 0
        ? []
        : this.run<PendingRow>(schedulingSql.pending, [wanted.map((r) => r.queue), wanted.map((r) => r.limit)]),
      paged.length === 0
        ? []
        : this.run<PendingRow>(schedulingSql.pendingAfter, [
            paged.map((r) => r.queue),
            paged.map((r) => r.limit),
            paged.map((r) => priorityRank(r.after!.priority)),
            paged.map((r) => r.after!.priorityLevel),
            paged.map((r) => r.after!.id),
          ]),
    ]);
    const rows = [...heads, ...pages];
    return rows.map(pendingFromRow);
  }

  async assign(placements: Placement[], leaseMs: number): Promise<JobAssignment[]> {
    const now = this.clock();
    // A job placed twice in one batch goes to its first placement.
    const seen = new Set<string>();
    const batch = placements.filter((p) => !seen.has(p.jobId) && seen.add(p.jobId));
    if (batch.length === 0) return [];
    const tokens = batch.map(() => newLeaseToken());
    const rows = await this.run<AssignedRow>(schedulingSql.assign, [
      batch.map((p) => p.jobId),
      batch.map((p) => p.agentId),
      tokens,
      batch.map((p) => gpusLiteral(p.gpus)),
      batch.map((_, i) => i),
      now + leaseMs,
      now,
    ]);
    return rows
      .sort((a, b) => a.ord - b.ord)
      .map((row) => {
        const placement = batch[row.ord]!;
        return {
          job: assignedFromRow(row, placement.agentId, [...placement.gpus]),
          leaseToken: tokens[row.ord]!,
        };
      });
  }

  async expireLeases(): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> {
    const now = this.clock();
    const [row] = await this.run<{ ended: [string, JobState][]; next_expiry_at: number | null }>(
      schedulingSql.expireLeases,
      [now, schedulingSql.SWEEP_BATCH],
    );
    const ended = row?.ended ?? [];
    const requeued = ended.filter(([, state]) => state === 'queued').map(([id]) => id);
    const failed = ended.filter(([, state]) => state === 'failed').map(([id]) => id);
    if (ended.length > 0) this.relay.publish({ type: 'changed' });
    return { requeued, failed, nextExpiryAt: row?.next_expiry_at ?? null };
  }

  /** Each item's answer: the new state, or why its lease was refused. */
  private leaseChecked(items: readonly LeaseRef[], rows: LeaseCheckedRow[]): TransitionResult[] {
    return rows.map((row) => {
      const item = items[row.ord - 1]!;
      if (row.new_state) return { jobId: item.jobId, ok: true, state: row.new_state };
      return refusalOfUnchanged(item, row.cur_state ? { state: row.cur_state, leaseToken: row.cur_lease_token } : null);
    });
  }

  async start(items: LeaseRef[], leaseMs: number): Promise<TransitionResult[]> {
    if (items.length === 0) return [];
    const now = this.clock();
    const rows = await this.run<LeaseCheckedRow>(leasesSql.start, [
      items.map((i) => i.jobId),
      items.map((i) => i.leaseToken),
      now + leaseMs,
      now,
    ]);
    return this.leaseChecked(items, rows);
  }

  async heartbeat(items: (LeaseRef & { progress?: number })[], leaseMs: number): Promise<TransitionResult[]> {
    if (items.length === 0) return [];
    const now = this.clock();
    const rows = await this.run<LeaseCheckedRow>(leasesSql.heartbeat, [
      items.map((i) => i.jobId),
      items.map((i) => i.leaseToken),
      items.map((i) => i.progress ?? null),
      now + leaseMs,
      now,
    ]);
    return this.leaseChecked(items, rows);
  }

  /**
   * complete and release: one transaction that locks the reported jobs, decides each item
   * in order, and applies every outcome in one statement.
   */
  private async settle<T extends LeaseRef>(
    items: readonly T[],
    now: number,
    decide: (item: T, row: SettleRow) => Omit<SettleAction, 'jobId'>,
  ): Promise<{ results: TransitionResult[]; actions: SettleAction[] }> {
    return this.transaction(async (client) => {
      const ids = [...new Set(items.map((i) => i.jobId))];
      const locked = await this.run<SettleRow>(leasesSql.lockForSettle, [ids], client);
      const decided = decideBatch(items, new Map(locked.map((r) => [r.id, r])), decide);
      if (decided.actions.length > 0) {
        await this.run(leasesSql.settle, [...settleColumns(decided.actions), now], client);
      }
      return decided;
    });
  }

  async complete(items: Completion[]): Promise<TransitionResult[]> {
    if (items.length === 0) return [];
    const now = this.clock();
    const { results, actions } = await this.settle(items, now, (item, row) =>
      completionDecision(item, row, now, this.random),
    );
    if (actions.length > 0) {
      const dueAt = earliestRetry(actions);
      this.relay.publish({ type: 'changed', ...(dueAt !== undefined && { dueAt }) });
    }
    return results;
  }

  async release(items: (LeaseRef & { error: JobError; leaseExpiresBy?: number })[]): Promise<TransitionResult[]> {
    if (checkReleaseItems(items) === 0) return [];
    const now = this.clock();
    const { results, actions } = await this.settle(items, now, (item, row) => releaseDecision(item, row, now));
    if (actions.length > 0) this.relay.publish({ type: 'changed' });
    return results;
  }

  async appendLogs(chunks: LogChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const now = this.clock();
    const plans = planLogs(chunks, this.logTailBytes);
    await this.transaction(async (client) => {
      const tails = new Map(
        (
          await this.run<{ job_id: string; last_seq: number; bytes: number }>(
            logsSql.lockTails,
            [plans.map((p) => p.jobId)],
            client,
          )
        ).map((t) => [t.job_id, t]),
      );
      const trimming = plans.filter((p) => p.budget > 0 && (tails.get(p.jobId)?.bytes ?? 0) > p.budget);
      const sizes = new Map<string, { seq: number; bytes: number }[]>();
      if (trimming.length > 0) {
        const rows = await this.run<{ job_id: string; seq: number; bytes: number }>(
          logsSql.logSizes,
          [trimming.map((p) => p.jobId)],
          client,
        );
        for (const r of rows) {
          const list = sizes.get(r.job_id);
          if (list) list.push(r);
          else sizes.set(r.job_id, [r]);
        }
      }
      const drops: [string[], number[]] = [[], []];
      const written: [string[], number[], number[], string[], number[], string[]] = [[], [], [], [], [], []];
      const newTails: [string[], number[], number[]] = [[], [], []];
      for (const plan of plans) {
        let seq = tails.get(plan.jobId)?.last_seq ?? 0;
        let stored = tails.get(plan.jobId)?.bytes ?? 0;
        if (stored > plan.budget) {
          const { through, remaining } = trimThrough(sizes.get(plan.jobId) ?? [], stored, plan.budget, seq);
          drops[0].push(plan.jobId);
          drops[1].push(through);
          stored = remaining;
        }
        for (const { chunk, data, bytes } of plan.kept) {
          written[0].push(plan.jobId);
          written[1].push(++seq);
          written[2].push(chunk.attempt);
          written[3].push(chunk.stream);
          written[4].push(bytes);
          written[5].push(data);
        }
        newTails[0].push(plan.jobId);
        newTails[1].push(seq);
        newTails[2].push(stored + plan.batchBytes);
      }
      await this.run(logsSql.writeLogs, [...drops, ...written, ...newTails, now], client);
    });
    for (const plan of plans) this.relay.publish({ type: 'logs', jobId: plan.jobId });
  }

  async getLogs(jobId: string, afterSeq?: number, limit?: number): Promise<StoredLogChunk[]> {
    const args = [jobId, afterSeq ?? 0, logPageLimit(limit)];
    const rows = await this.run<Omit<StoredLogChunk, 'jobId'>>(logsSql.getLogs, args);
    return rows.map((r) => ({ jobId, seq: r.seq, attempt: r.attempt, stream: r.stream, data: r.data, at: r.at }));
  }

  async deleteFinished(finishedBefore: number, limit: number, state?: FinalJobState): Promise<{ deleted: number }> {
    const { before, limit: max, state: only } = retentionArgs(finishedBefore, limit, state);
    if (max === 0) return { deleted: 0 };
    const [row] = only
      ? await this.run<{ deleted: number }>(jobsSql.deleteFinishedInState, [before, max, only])
      : await this.run<{ deleted: number }>(jobsSql.deleteFinished, [before, max]);
    return { deleted: row?.deleted ?? 0 };
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
  publish = (event: StoreEvent): Promise<void> => this.coordination.publish(event);
  /** Many servers share a PostgreSQL database: nothing to claim. */
  claimServer = async (): Promise<void> => {};

  async registerTasks(tasks: TaskRoute[], ttlMs?: number): Promise<void> {
    const now = this.clock();
    if (await registerRoutes(this.pool, tasks, routeExpiry(ttlMs, now), now)) this.relay.publish({ type: 'routes' });
  }

  taskRoutes = (): Promise<StoredTaskRoute[]> => liveRoutes(this.pool, this.clock());
}

/** The rows an enqueue inserted, as its event needs them. */
function* createdJobs(rows: Iterable<JobRow>): Iterable<{ queue: string; state: JobState; runAt: number }> {
  for (const r of rows) yield { queue: r.queue, state: r.state as JobState, runAt: r.run_at };
}
