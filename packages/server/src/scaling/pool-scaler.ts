import type { Logger } from 'pino';
import type { AgentCapacity, BatonConfig, PoolDecision, PoolMemory, QueueBacklog } from '@baton/core';
import { chooseDrain, decidePool, emptyPoolMemory, poolDemand, strandedGpus, unitsPerAgent } from '@baton/core';
import type { Store } from '@baton/store';
import type { PoolSignal } from '../metrics/fleet-figures.js';

/** Pending jobs read per queue to learn the backlog's shape; the queue's count scales it. */
export const BACKLOG_SAMPLE = 200;
/** Queues sampled per sync at most (the longest first); the rest count one slot per job. */
export const MAX_SAMPLED_QUEUES = 100;
/** Enqueues on a pool at zero that arrive together share one early sync. */
const WAKE_DEBOUNCE_MS = 100;

export interface PoolScaling extends PoolDecision {
  /** Agent ids to drain for a scale-in: idle ones only, never a busy one. */
  drain: string[];
  /** Agents over `desired` kept because they are busy; drained once idle. */
  busyKept: number;
}

export interface ScalingSnapshot {
  /** When the decisions were made (epoch ms); null before the first sync. */
  at: number | null;
  syncSeconds: number;
  /** Whether a `baton.yaml` configures pools: without one there is nothing to decide. */
  configured: boolean;
  pools: PoolScaling[];
  /** Pending jobs no configured pool can run (they wait for agents outside the config). */
  unplaceable: number;
  /** Free GPUs, per pool (configured or not), that no pending job can use. */
  strandedGpus: Record<string, number>;
}

export interface PoolScalerDeps {
  store: Store;
  config: BatonConfig | null;
  /** Every agent of the fleet that takes work now, this server's and the others'. */
  fleetAgents: () => Promise<AgentCapacity[]>;
  /** When each of this server's agents connected (others' are unknown: 0). */
  connectedAt: (agentId: string) => number | undefined;
  logger: Logger;
}

/**
 * Decides, every `syncSeconds`, how many agents each configured pool should have, from the
 * fleet's backlog (the store's) and agents (every server's reports). Every server runs one, so
 * any server answers `GET /api/scaling` and `/metrics` alike; each remembers its own recent
 * recommendations, which agree across servers because their inputs do.
 */
export class PoolScaler {
  private readonly memory = new Map<string, PoolMemory>();
  private snapshot: ScalingSnapshot;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<ScalingSnapshot> | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  /** Queues of pools that may scale to zero: work on them may have to wake a pool at once. */
  private readonly zeroQueues: Set<string>;

  constructor(private readonly deps: PoolScalerDeps) {
    this.snapshot = {
      at: null,
      syncSeconds: this.syncSeconds,
      configured: deps.config !== null && deps.config.pools.length > 0,
      pools: [],
      unplaceable: 0,
      strandedGpus: {},
    };
    this.zeroQueues = new Set((deps.config?.pools ?? []).filter((p) => p.min === 0).flatMap((p) => p.queues));
  }

  /**
   * Jobs were enqueued on these queues. When one is a queue of a pool now at zero, decide soon
   * rather than at the next sync: the first job on a pool at zero waits for an agent that has
   * not been asked for yet (a sync period's wait on top of a cold start).
   */
  enqueued(queues: readonly string[]): void {
    if (this.timer === null || this.wakeTimer !== null) return;
    const atZero = queues.some(
      (q) => this.zeroQueues.has(q) && this.snapshot.pools.some((p) => p.desired === 0 && this.takes(p.pool, q)),
    );
    if (!atZero) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.sync().catch((err: unknown) => this.deps.logger.warn({ err }, 'scaling sync failed'));
    }, WAKE_DEBOUNCE_MS);
    this.wakeTimer.unref();
  }

  private takes(pool: string, queue: string): boolean {
    return this.deps.config?.pools.find((p) => p.name === pool)?.queues.includes(queue) ?? false;
  }

  get syncSeconds(): number {
    return this.deps.config?.scaling.syncSeconds ?? 15;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.sync().catch((err: unknown) => this.deps.logger.warn({ err }, 'scaling sync failed'));
    };
    tick();
    this.timer = setInterval(tick, this.syncSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.timer = null;
    this.wakeTimer = null;
  }

  /** The latest decisions, syncing first when they are older than a sync period. */
  async current(now = Date.now()): Promise<ScalingSnapshot> {
    const at = this.snapshot.at;
    if (at === null || now - at >= this.syncSeconds * 1000) return this.sync(now);
    return this.snapshot;
  }

  /** One sync: reads the fleet once and decides every pool. Concurrent calls share it. */
  sync(now = Date.now()): Promise<ScalingSnapshot> {
    this.running ??= this.decide(now).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async decide(now: number): Promise<ScalingSnapshot> {
    const { store, config } = this.deps;
    const [stats, agents] = await Promise.all([store.queueStats(), this.deps.fleetAgents()]);
    const pools = config?.pools ?? [];
    // The backlog's shape matters to configured pools and to GPUs that may be stranded; with
    // neither, the counts alone do.
    const sample = pools.length > 0 || agents.some((a) => a.freeGpus.length > 0);
    const waiting = stats
      .filter((s) => sample && s.counts.queued > 0)
      .sort((a, b) => b.counts.queued - a.counts.queued)
      .slice(0, MAX_SAMPLED_QUEUES);
    const samples = await Promise.all(
      waiting.map(async (s) => store.pending([{ queue: s.queue, limit: BACKLOG_SAMPLE }])),
    );
    const sampled = new Map(waiting.map((s, i) => [s.queue, samples[i] ?? []]));
    const backlog: QueueBacklog[] = stats.map((s) => ({
      queue: s.queue,
      pending: s.counts.queued,
      sample: sampled.get(s.queue) ?? [],
    }));

    const byPool = new Map<string, AgentCapacity[]>();
    for (const a of agents) byPool.set(a.pool, [...(byPool.get(a.pool) ?? []), a]);
    const active = new Set([...byPool.keys()].filter((p) => (byPool.get(p)?.length ?? 0) > 0));
    const { demand, unplaceable } = poolDemand(pools, backlog, active);

    const decisions: PoolScaling[] = [];
    for (const pool of pools) {
      const members = byPool.get(pool.name) ?? [];
      const gpuPool = pool.gpusPerAgent !== undefined;
      let runningUnits = 0;
      for (const a of members)
        runningUnits += gpuPool ? a.gpuCount - a.freeGpus.length : Math.max(0, a.total.slots - a.freeSlots);
      const wanted = demand.get(pool.name) ?? { pendingJobs: 0, pendingUnits: 0 };
      const { decision, memory } = decidePool(
        pool,
        { agents: members.length, ...wanted, runningUnits },
        this.memory.get(pool.name) ?? emptyPoolMemory(),
        now,
        config?.scaling.tolerance ?? 0.1,
      );
      const previous = this.memory.get(pool.name)?.desired;
      this.memory.set(pool.name, memory);
      const { drain, busyKept } = chooseDrain(
        members.map((a) => ({
          id: a.id,
          busy: a.freeSlots < a.total.slots || a.freeGpus.length < a.gpuCount,
          connectedAt: this.deps.connectedAt(a.id) ?? 0,
        })),
        decision.desired,
      );
      if (previous !== undefined && previous !== null && previous !== decision.desired) {
        this.deps.logger.info(
          { pool: pool.name, from: previous, to: decision.desired, perAgent: unitsPerAgent(pool) },
          `scaling: pool ${pool.name} ${previous} → ${decision.desired} agents (${decision.reason})`,
        );
      }
      decisions.push({ ...decision, drain, busyKept });
    }
    const stranded = strandedGpus(agents, backlog);
    this.snapshot = {
      at: now,
      syncSeconds: this.syncSeconds,
      configured: pools.length > 0,
      pools: decisions,
      unplaceable,
      strandedGpus: Object.fromEntries([...stranded].sort(([a], [b]) => a.localeCompare(b))),
    };
    return this.snapshot;
  }
}

/** What `/metrics` shows of the decisions: each pool's desired agents (configured pools) and stranded GPUs. */
export function poolSignals(snapshot: ScalingSnapshot): PoolSignal[] {
  const signals = new Map<string, PoolSignal>();
  for (const p of snapshot.pools) signals.set(p.pool, { pool: p.pool, desired: p.desired, strandedGpus: 0 });
  for (const [pool, stranded] of Object.entries(snapshot.strandedGpus)) {
    const known = signals.get(pool);
    if (known) known.strandedGpus = stranded;
    else signals.set(pool, { pool, desired: null, strandedGpus: stranded });
  }
  return [...signals.values()];
}
