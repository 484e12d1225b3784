import type { QueueStats, Store } from '@baton/store';
import type { Logger } from 'pino';
import type { AgentSession } from '../agents/agent-session.js';
import type { CapacityReport, PoolFigures } from '../agents/capacity-report.js';
import { capacityReport, mergeCapacity, mergePoolFigures, poolFigures } from '../agents/capacity-report.js';
import type { AgentsReport } from '../agents/capacity-wire.js';

/** What the scaling work says of each pool: its desired agent count and its stranded GPUs. */
export interface PoolSignal {
  pool: string;
  /** Null for a pool no `baton.yaml` configures: nothing is decided for it. */
  desired: number | null;
  strandedGpus: number;
}

/** Supplies the pool signals at scrape time (see {@link PoolSignal}). */
export type PoolSignals = () => Promise<PoolSignal[]>;

/** The fleet's figures at one moment: the same from every server of a store (up to report lag). */
export interface FleetFigures {
  queues: QueueStats[];
  /** Slots per pool, as `GET /api/capacity` reports them. */
  capacity: CapacityReport;
  pools: PoolFigures[];
  /** Null when no provider was given. */
  signals: PoolSignal[] | null;
}

export interface FleetFigureDeps {
  store: Pick<Store, 'queueStats' | 'agentReports'>;
  serverId: string;
  /** This server's agents (its own figures are exact; the other servers' come from their reports). */
  agents(): readonly AgentSession[];
  poolSignals?: PoolSignals | undefined;
  logger: Logger;
  /** How long one read serves later scrapes. [1 000] */
  maxAgeMs?: number;
}

/**
 * Reads the fleet's figures for a scrape: one `queueStats` and one `agentReports` call, merged
 * with this server's agents. A read serves every scrape for `maxAgeMs`, and scrapes arriving
 * while one is under way share it, so concurrent scrapers cost the store one read.
 */
export class FleetFigureReader {
  private last: { at: number; figures: FleetFigures } | null = null;
  private reading: Promise<FleetFigures> | null = null;

  constructor(private readonly deps: FleetFigureDeps) {}

  read(): Promise<FleetFigures> {
    const maxAgeMs = this.deps.maxAgeMs ?? 1000;
    if (this.last && Date.now() - this.last.at < maxAgeMs) return Promise.resolve(this.last.figures);
    this.reading ??= this.readNow()
      .then((figures) => {
        this.last = { at: Date.now(), figures };
        return figures;
      })
      .finally(() => {
        this.reading = null;
      });
    return this.reading;
  }

  /** The provider's signals; when it fails, the scrape goes on without them (and says so in the log). */
  private async signals(): Promise<PoolSignal[] | null> {
    if (!this.deps.poolSignals) return null;
    try {
      return await this.deps.poolSignals();
    } catch (err) {
      this.deps.logger.warn(
        { err },
        'pool signals unavailable: /metrics leaves baton_desired_agents and baton_gpus_stranded out',
      );
      return null;
    }
  }

  private async readNow(): Promise<FleetFigures> {
    const { store, serverId } = this.deps;
    const [queues, reports, signals] = await Promise.all([store.queueStats(), store.agentReports(), this.signals()]);
    const sessions = this.deps.agents();
    const capacity: CapacityReport[] = [capacityReport(sessions)];
    const pools: PoolFigures[][] = [poolFigures(sessions)];
    for (const r of reports) {
      if (r.serverId === serverId) continue;
      const report = r.report as Partial<AgentsReport> | null;
      if (report?.pools) capacity.push(report.pools);
      if (Array.isArray(report?.poolFigures)) pools.push(report.poolFigures);
    }
    return { queues, capacity: mergeCapacity(capacity), pools: mergePoolFigures(pools), signals };
  }
}
