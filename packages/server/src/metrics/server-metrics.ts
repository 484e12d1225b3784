import type { FastifyInstance } from 'fastify';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentSession } from '../agents/agent-session.js';
import { FleetFigureReader } from './fleet-figures.js';
import type { FleetFigures, PoolSignals } from './fleet-figures.js';
import { registerFleetGauges } from './fleet-gauges.js';
import { installHttpMetrics } from './http-metrics.js';
import { JobCounters } from './job-counters.js';
import { registerMetricsRoute } from './metrics-route.js';

export interface ServerMetricsDeps {
  store: Store;
  serverId: string;
  /** This server's agents. */
  agents(): readonly AgentSession[];
  /** The scaling work's per-pool signals (`baton_desired_agents`, `baton_gpus_stranded`); none: no series. */
  poolSignals?: PoolSignals | undefined;
  logger: Logger;
}

/**
 * One server's metrics, in a registry of its own (several servers may share a process; the
 * global registry is never used): the fleet's gauges read at scrape time, this server's
 * counters and histograms ({@link jobs}, handed to where events happen), HTTP metrics, and
 * Node's process metrics under their usual names (`process_*`, `nodejs_*`), so stock
 * dashboards work.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly jobs: JobCounters;
  private readonly fleet: FleetFigureReader;
  /** The fleet's figures of the latest scrape; null when its read failed. */
  private figures: FleetFigures | null = null;
  private readonly logger: Logger;

  constructor(deps: ServerMetricsDeps) {
    collectDefaultMetrics({ register: this.registry });
    this.jobs = new JobCounters(this.registry, deps.store, deps.logger);
    this.fleet = new FleetFigureReader({
      store: deps.store,
      serverId: deps.serverId,
      agents: deps.agents,
      poolSignals: deps.poolSignals,
      logger: deps.logger,
    });
    registerFleetGauges(this.registry, () => this.figures);
    this.logger = deps.logger;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Installs the HTTP metrics and `GET /metrics` on `app`. */
  install(app: FastifyInstance): void {
    installHttpMetrics(app, this.registry);
    registerMetricsRoute(app, this);
  }

  /**
   * The exposition text. The fleet is read once first, so every gauge shows the same read. A
   * store that cannot be read (an outage) leaves the fleet's gauges out; this server's own
   * metrics are served all the same.
   */
  async text(): Promise<string> {
    try {
      this.figures = await this.fleet.read();
    } catch (err) {
      this.figures = null;
      this.logger.warn(
        { err },
        "/metrics: could not read the fleet's figures from the store; serving this server's own",
      );
    }
    return this.registry.metrics();
  }
}
