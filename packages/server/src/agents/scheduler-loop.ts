import type { Offer, PendingRequest, Store } from '@baton/store';
import type { AgentCapacity, PendingReason } from '@baton/core';
import { place, shardOfQueue } from '@baton/core';
import type { Logger } from 'pino';
import type { FleetView } from './fleet-view.js';
import type { AgentGateway } from './gateway.js';
import type { ShardKeeper } from './shard-keeper.js';

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
}

/** How many queued jobs beyond a queue's free slots one pass considers. */
const LOOK_PAST = 256;

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
  private readonly onCapacity = () => this.wake();
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

  constructor(
    private readonly store: Store,
    private readonly gateway: AgentGateway,
    private readonly options: SchedulerLoopOptions,
  ) {}

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.unsubscribe = this.store.subscribe((event) => {
      if (event.type === 'logs' || event.type === 'offer') return;
      if (event.type === 'capacity') {
        if (event.serverId === this.options.serverId) return;
        this.options.fleet.markDirty();
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
    const { nextExpiryAt } = await this.store.expireLeases();
    this.nextRunAt = nextRunAt ?? Infinity;
    this.nextExpiryAt = nextExpiryAt ?? Infinity;
    this.lastSweepAt = now;
  }

  /** Whether some queue gave as many jobs as asked: more may wait behind them. */
  private hitLimit(pending: readonly { queue: string }[], requests: readonly PendingRequest[]): boolean {
    const counts = new Map<string, number>();
    for (const job of pending) counts.set(job.queue, (counts.get(job.queue) ?? 0) + 1);
    return requests.some((r) => (counts.get(r.queue) ?? 0) >= r.limit);
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
    if (freeByQueue.size === 0) {
      this.reasons = new Map(); // explained on demand until a pass looks again
      return false;
    }
    const requests: PendingRequest[] = [...freeByQueue].map(([queue, limit]) => ({ queue, limit }));
    let pending = await this.store.pending(requests);
    if (pending.length === 0) return false;
    // `now` lets placement backfill held agents with jobs whose timeout ends in time.
    let result = place(pending, agents, { now: Date.now() });
    if (result.pending.size > 0 && this.hitLimit(pending, requests)) {
      // Jobs at the head that fit nowhere (a large GPU job) must not hide smaller jobs behind
      // them that fit now: look further down those queues. Only then, so the common case of
      // jobs that all fit reads no more than the free slots.
      pending = await this.store.pending(requests.map((r) => ({ queue: r.queue, limit: r.limit + LOOK_PAST })));
      result = place(pending, agents, { now: Date.now() });
    }
    const { placements, pending: reasons } = result;
    this.reasons = reasons;
    if (placements.length === 0) return false;
    const resources = new Map(pending.map((job) => [job.id, job.resources]));
    const mine: Offer[] = [];
    const offers = new Map<string, Offer[]>();
    for (const p of placements) {
      const offer: Offer = { ...p, resources: resources.get(p.jobId)! };
      const serverId = serverOf.get(p.agentId);
      if (serverId === undefined) {
        mine.push(offer);
        continue;
      }
      let list = offers.get(serverId);
      if (!list) offers.set(serverId, (list = []));
      list.push(offer);
      this.options.fleet.offered(p.agentId, offer.resources, p.gpus);
    }
    for (const [serverId, list] of offers) await this.store.publish({ type: 'offer', serverId, placements: list });
    const assignments = mine.length > 0 ? await this.gateway.admit(mine) : [];
    if (assignments.length > 0) this.nextExpiryAt = Math.min(this.nextExpiryAt, Date.now() + this.options.leaseMs);
    return assignments.length > 0 && this.gateway.capacity().some((a) => a.freeSlots > 0);
  }
}
