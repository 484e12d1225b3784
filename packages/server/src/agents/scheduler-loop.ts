import type { PendingRequest, Store } from '@baton/store';
import type { AgentCapacity, PendingReason } from '@baton/core';
import { place, shardOfQueue } from '@baton/core';
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
import { QueueSweeps } from './queue-sweeps.js';

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
    this.sweeps.roomChanged();
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
  private readonly sweeps = new QueueSweeps();

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
        this.sweeps.roomChanged();
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
    const full = result.pending.size > 0 ? this.sweeps.fullQueues(pending, requests) : new Set<string>();
    if (full.size > 0) {
      // Jobs at the head that fit nowhere (a large GPU job) must not hide smaller jobs behind
      // them that fit now: look further down those queues. Only then, so the common case of
      // jobs that all fit reads no more than the free slots.
      const past = await this.sweeps.readPastHeads(this.store, pending, requests, full);
      pending = past.pending;
      this.options.estimates?.fill(pending, estimated);
      order = await orderForPass(pending, this.options);
      result = place(order.admitted, agents, { now: Date.now(), ordered: true });
      sweepOn = this.sweeps.advance(past.pages, new Set(result.placements.map((p) => p.jobId)));
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
