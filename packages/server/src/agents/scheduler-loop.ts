import type { PendingCursor, PendingRequest, Store } from '@baton/store';
import type { AgentCapacity, PendingJob, PendingReason } from '@baton/core';
import { comparePending, place, priorityRank, shardOfQueue } from '@baton/core';
import { preemptForWaiting } from './preemption-step.js';
import type { FleetShares } from '../fairness/fleet-shares.js';
import { orderForPass } from '../fairness/pass-order.js';
import type { QuotaBook } from '../quota/quota-book.js';
import type { Logger } from 'pino';
import type { FleetView } from './fleet-view.js';
import type { AgentGateway } from './gateway.js';
import type { ShardKeeper } from './shard-keeper.js';
import type { JobMetrics } from '../metrics/job-metrics.js';
import type { RuntimeEstimates } from '../estimates/runtime-estimates.js';
import { offersOf } from './offers.js';

export interface SchedulerLoopOptions {
  leaseMs: number;
  /**
   * Longest sleep between sweeps when nothing wakes the loop. Wake-ups (enqueue, completion,
   * agent joining) drive the hot path; the sweep only catches due delayed jobs and expired
   * leases, and it is timed to the next one of those when known.
   */
  maxSweepMs: number;
  logger: Logger;
  /** This server's id: offers for its own agents are admitted here, the rest published. */
  serverId: string;
  /** The shards this scheduler owns: it places only jobs of their queues. */
  shards: ShardKeeper;
  /** The other servers' agents. */
  fleet: FleetView;
  /** Users' weights, usage and holdings, for fair share and running quotas. */
  shares: FleetShares;
  /** Owners' quotas. */
  quotas: QuotaBook;
  /** Interleave owners by fair share (else first come, first served within a class). */
  fairShare: boolean;
  /** Times passes, counts expired leases and preemptions (absent: metrics are off). */
  metrics?: JobMetrics | undefined;
  /** Learned runtimes of jobs without a timeout (absent: such jobs plan as unbounded). */
  estimates?: RuntimeEstimates | undefined;
}

/**
 * How many queued jobs beyond a queue's free slots one pass considers when its head does not
 * all place: half from the head (whose blocked GPU jobs hold agents), half from a page further
 * down that moves on each pass (see {@link Sweep}).
 */
const LOOK_PAST = 256;
const HEAD_PAST = LOOK_PAST / 2;
const PAGE = LOOK_PAST - HEAD_PAST;

/**
 * Where a queue's sweep past its head stands. Jobs that fit nowhere (1 000 GPU jobs larger
 * than any agent) can fill any bounded head, so each pass also reads one page after a cursor;
 * the cursor moves a page on when the page placed nothing, and wraps at the queue's end. Every
 * queued job is thus looked at within ⌈backlog / PAGE⌉ passes, each reading a bounded number
 * of jobs, while the head keeps its reservations. A page that placed something is read again
 * (its placed jobs are gone), so a queue's runnable jobs are found again at once when room frees.
 */
interface Sweep {
  /** The last job of the previous page; null: the next page follows the head. */
  after: PendingCursor | null;
  /** Whether a page placed a job since the cursor last wrapped. */
  placed: boolean;
  /**
   * A whole round placed nothing and no room came back since: the cursor then moves a page per
   * wake-up instead of in a run of passes, so a backlog nothing fits costs no more than that.
   */
  idle: boolean;
}

/** Lifecycle of the scheduler loop. */
export type SchedulerState = 'idle' | 'running' | 'stopped';

/**
 * The event-driven loop around the pure placement function: on each wake-up it promotes due
 * jobs, expires dead leases, places queued jobs on free agent slots and dispatches them.
 * Wake-ups arriving during a pass are coalesced into one more pass.
 */
export class SchedulerLoop {
  private state: SchedulerState = 'idle';
  private passing = false;
  private again = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly onCapacity = () => {
    this.roomChanged();
    this.wake();
  };
  // A dead agent's leases run out about now: sweep at once rather than at the next due time.
  private readonly onAgentLost = () => {
    this.lastSweepAt = 0;
    this.nextExpiryAt = 0;
    this.wake();
  };
  private lastPassAt = 0;
  private consecutiveErrors = 0;
  // When the next delayed job is due and the next lease runs out, as far as this loop knows.
  // Store events carry `dueAt` for new delayed jobs, and every new lease ends after leaseMs,
  // so sweeps run only when one of these comes due (or maxSweepMs passes).
  private nextRunAt = 0;
  private nextExpiryAt = 0;
  private lastSweepAt = 0;
  /** Shards of the queues seen so far (queue names are few; the hash is not free). */
  private readonly shardOf = new Map<string, number>();
  /** Why each job the last pass looked at stayed queued. */
  private reasons = new Map<string, PendingReason>();
  /** Per queue: how far the sweep past the head has read. */
  private readonly sweeps = new Map<string, Sweep>();

  constructor(
    private readonly store: Store,
    private readonly gateway: AgentGateway,
    private readonly options: SchedulerLoopOptions,
  ) {}

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.unsubscribe = this.store.subscribe((event) => {
      if (event.type === 'logs' || event.type === 'offer' || event.type === 'preempt') return;
      if (event.type === 'capacity') {
        if (event.serverId === this.options.serverId) return;
        this.options.fleet.markDirty();
        this.roomChanged();
      }
      if ('dueAt' in event && event.dueAt !== undefined) this.nextRunAt = Math.min(this.nextRunAt, event.dueAt);
      this.wake();
    });
    this.gateway.on('capacity', this.onCapacity);
    this.gateway.on('agentLost', this.onAgentLost);
    this.options.shards.on('changed', this.onCapacity);
    this.wake();
  }

  /** Why a job stayed queued in the last pass that considered it, if one did. */
  pendingReason(jobId: string): PendingReason | undefined {
    return this.reasons.get(jobId);
  }

  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.unsubscribe?.();
    this.gateway.off('capacity', this.onCapacity);
    this.gateway.off('agentLost', this.onAgentLost);
    this.options.shards.off('changed', this.onCapacity);
    if (this.timer) clearTimeout(this.timer);
  }

  /** True when a pass completed recently; for readiness checks. */
  get healthy(): boolean {
    return this.state === 'running' && Date.now() - this.lastPassAt < this.options.maxSweepMs * 3 + 1000;
  }

  wake(): void {
    if (this.state !== 'running') return;
    if (this.passing) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pass();
    });
  }

  private async pass(): Promise<void> {
    if (this.state !== 'running' || this.passing) return;
    this.passing = true;
    this.again = false;
    let retryAt: number | null = null;
    const timed = this.options.metrics?.passTimer();
    try {
      const now = Date.now();
      if (now >= this.nextSweepAt()) await this.sweep(now);
      if (await this.placeOnce()) this.again = true;
      this.lastPassAt = Date.now();
      this.consecutiveErrors = 0;
    } catch (err) {
      this.consecutiveErrors++;
      this.options.logger.error({ err }, 'scheduler pass failed; retrying');
      retryAt = Date.now() + Math.min(5000, 100 * 2 ** this.consecutiveErrors);
      this.lastSweepAt = 0; // sweep on the retry
    } finally {
      this.passing = false;
      timed?.();
    }
    if (this.state !== 'running') return;
    if (this.timer) clearTimeout(this.timer);
    const wakeAt = retryAt ?? this.nextSweepAt();
    this.timer = setTimeout(() => this.wake(), Math.max(0, wakeAt - Date.now()));
    this.timer.unref();
    if (this.again && retryAt === null) this.wake();
  }

  private nextSweepAt(): number {
    return Math.min(this.nextRunAt, this.nextExpiryAt, this.lastSweepAt + this.options.maxSweepMs);
  }

  /** Promotes due delayed jobs and expires dead leases, learning when the next of each is due. */
  private async sweep(now: number): Promise<void> {
    const { nextRunAt } = await this.store.promoteDue();
    const expired = await this.store.expireLeases();
    this.options.metrics?.expired(expired);
    const { nextExpiryAt } = expired;
    this.nextRunAt = nextRunAt ?? Infinity;
    this.nextExpiryAt = nextExpiryAt ?? Infinity;
    this.lastSweepAt = now;
  }

  /** Room came back (or agents changed): sweeps that found nothing to place may run again. */
  private roomChanged(): void {
    for (const sweep of this.sweeps.values()) sweep.idle = false;
  }

  /** The queues that gave as many jobs as asked: more may wait behind them. */
  private fullQueues(pending: readonly { queue: string }[], requests: readonly PendingRequest[]): Set<string> {
    const counts = new Map<string, number>();
    for (const job of pending) counts.set(job.queue, (counts.get(job.queue) ?? 0) + 1);
    return new Set(requests.filter((r) => (counts.get(r.queue) ?? 0) >= r.limit).map((r) => r.queue));
  }

  /**
   * Reads past the head of the queues whose head did not all place: the head again with
   * {@link HEAD_PAST} more jobs, and a page of {@link PAGE} jobs after the queue's sweep cursor
   * (or, with no cursor, the page right after the head, in the same read). Jobs of the other
   * queues stay as first read. Returns the jobs, each once, and each swept queue's page.
   */
  private async readPastHeads(
    first: readonly PendingJob[],
    requests: readonly PendingRequest[],
    full: ReadonlySet<string>,
  ): Promise<{ pending: PendingJob[]; pages: Map<string, PendingJob[]> }> {
    const asked: PendingRequest[] = [];
    for (const r of requests) {
      if (!full.has(r.queue)) continue;
      const after = this.sweeps.get(r.queue)?.after ?? null;
      if (after === null) asked.push({ queue: r.queue, limit: r.limit + HEAD_PAST + PAGE });
      else asked.push({ queue: r.queue, limit: r.limit + HEAD_PAST }, { queue: r.queue, limit: PAGE, after });
    }
    const read = await this.store.pending(asked);
    // The first read stays whole: under fair share it holds each owner's head, which a read
    // past the queue's head (in plain order) may not reach.
    const seen = new Set<string>(first.map((j) => j.id));
    const pending: PendingJob[] = [...first];
    const byQueue = new Map<string, PendingJob[]>();
    const readOnce = new Set<string>();
    for (const job of read) {
      if (readOnce.has(job.id)) continue; // the head and the page overlap when the cursor is in the head
      readOnce.add(job.id);
      if (!seen.has(job.id)) {
        seen.add(job.id);
        pending.push(job);
      }
      let list = byQueue.get(job.queue);
      if (!list) byQueue.set(job.queue, (list = []));
      list.push(job);
    }
    // A queue's page: the first PAGE jobs after its cursor (the head may hold some of them), or
    // those read past its head when it had no cursor.
    const pages = new Map<string, PendingJob[]>();
    for (const r of requests) {
      if (!full.has(r.queue)) continue;
      const jobs = byQueue.get(r.queue) ?? [];
      const after = this.sweeps.get(r.queue)?.after ?? null;
      pages.set(
        r.queue,
        after === null
          ? jobs.slice(r.limit + HEAD_PAST)
          : jobs
              .filter((j) => compareToCursor(j, after) > 0)
              .sort(comparePending)
              .slice(0, PAGE),
      );
    }
    return { pending, pages };
  }

  /**
   * Moves each swept queue's cursor: on past a page that placed nothing, back to the head at
   * the queue's end. Returns true when a sweep should go on at once (another pass).
   */
  private advanceSweeps(pages: ReadonlyMap<string, PendingJob[]>, placed: ReadonlySet<string>): boolean {
    let more = false;
    for (const [queue, page] of pages) {
      let sweep = this.sweeps.get(queue);
      if (!sweep) this.sweeps.set(queue, (sweep = { after: null, placed: false, idle: false }));
      if (page.some((j) => placed.has(j.id))) {
        sweep.placed = true; // read this page again: its placed jobs leave room for the next ones
        sweep.idle = false;
        continue;
      }
      const last = page[page.length - 1];
      if (page.length < PAGE || !last) {
        // The queue's end: start again after the head, at once only if this round placed work.
        more ||= sweep.placed;
        sweep.idle = !sweep.placed;
        sweep.after = null;
        sweep.placed = false;
        continue;
      }
      sweep.after = { priority: last.priority, priorityLevel: last.priorityLevel, id: last.id };
      more ||= !sweep.idle;
    }
    return more;
  }

  /**
   * One placement round over the queues of this scheduler's shards, onto every agent of the
   * fleet: this server's own (exact) and the others' (as reported). Placements on this
   * server's agents are admitted here; the rest are offered to their servers. Returns true when
   * it assigned work here and capacity may remain.
   */
  private async placeOnce(): Promise<boolean> {
    const owned = this.options.shards.owned;
    if (owned.size === 0) return false;
    const local = this.gateway.capacity();
    const remote = await this.options.fleet.remote();
    const serverOf = new Map<string, string>(remote.map((r) => [r.capacity.id, r.serverId]));
    // Full agents stay in view: placement reserves them for large jobs and tells "no room now"
    // from "never fits".
    const agents: AgentCapacity[] = [...local, ...remote.map((r) => r.capacity)];
    const freeByQueue = new Map<string, number>();
    for (const agent of agents) {
      if (agent.freeSlots <= 0) continue;
      for (const queue of agent.queues) {
        let shard = this.shardOf.get(queue);
        if (shard === undefined) this.shardOf.set(queue, (shard = shardOfQueue(queue)));
        if (owned.has(shard)) freeByQueue.set(queue, (freeByQueue.get(queue) ?? 0) + agent.freeSlots);
      }
    }
    // A full preemptible agent may still make room for a waiting higher-class job: its queues
    // are read too (a few jobs), so preemption sees the jobs waiting for them.
    for (const agent of agents) {
      if (!agent.preemptible || !agent.running?.length) continue;
      for (const queue of agent.queues) {
        let shard = this.shardOf.get(queue);
        if (shard === undefined) this.shardOf.set(queue, (shard = shardOfQueue(queue)));
        if (owned.has(shard)) freeByQueue.set(queue, Math.max(freeByQueue.get(queue) ?? 0, PREEMPT_LOOK));
      }
    }
    if (freeByQueue.size === 0) {
      this.reasons = new Map(); // explained on demand until a pass looks again
      return false;
    }
    const requests: PendingRequest[] = [...freeByQueue].map(([queue, limit]) => ({ queue, limit }));
    // Under fair share, each owner's head: another owner's long backlog must not hide it.
    let pending = await this.store.pending(
      this.options.fairShare ? requests.map((r) => ({ ...r, perOwner: true })) : requests,
    );
    if (pending.length === 0) return false;
    // Jobs without a timeout plan with their class's learned runtime, for placement only.
    const estimated = new Map<string, number>();
    this.options.estimates?.fill(pending, estimated);
    // `now` lets placement backfill held agents with jobs whose timeout ends in time.
    let order = await orderForPass(pending, this.options);
    let result = place(order.admitted, agents, { now: Date.now(), ordered: true });
    let sweepOn = false;
    const full = result.pending.size > 0 ? this.fullQueues(pending, requests) : new Set<string>();
    if (full.size > 0) {
      // Jobs at the head that fit nowhere (a large GPU job) must not hide smaller jobs behind
      // them that fit now: look further down those queues. Only then, so the common case of
      // jobs that all fit reads no more than the free slots.
      const past = await this.readPastHeads(pending, requests, full);
      pending = past.pending;
      this.options.estimates?.fill(pending, estimated);
      order = await orderForPass(pending, this.options);
      result = place(order.admitted, agents, { now: Date.now(), ordered: true });
      sweepOn = this.advanceSweeps(past.pages, new Set(result.placements.map((p) => p.jobId)));
    }
    const { placements } = result;
    this.reasons = order.explain(result);
    const preempting = await preemptForWaiting(
      { store: this.store, gateway: this.gateway, logger: this.options.logger, metrics: this.options.metrics },
      { admitted: order.admitted, result, agents, serverOf },
    );
    for (const [jobId, reason] of preempting) this.reasons.set(jobId, reason);
    if (placements.length === 0) return sweepOn;
    const { mine, others } = offersOf(placements, pending, { serverOf, fleet: this.options.fleet, estimated });
    for (const [serverId, list] of others) await this.store.publish({ type: 'offer', serverId, placements: list });
    const assignments = mine.length > 0 ? await this.gateway.admit(mine) : [];
    if (assignments.length > 0) this.nextExpiryAt = Math.min(this.nextExpiryAt, Date.now() + this.options.leaseMs);
    return sweepOn || (assignments.length > 0 && this.gateway.capacity().some((a) => a.freeSlots > 0));
  }
}

/** Jobs read per queue of a full preemptible agent, for preemption to consider. */
const PREEMPT_LOOK = 8;

/** Where a job stands against a sweep cursor in scheduling order (negative: before it). */
function compareToCursor(job: PendingJob, cursor: PendingCursor): number {
  return (
    priorityRank(job.priority) - priorityRank(cursor.priority) ||
    cursor.priorityLevel - job.priorityLevel ||
    (job.id < cursor.id ? -1 : job.id > cursor.id ? 1 : 0)
  );
}
