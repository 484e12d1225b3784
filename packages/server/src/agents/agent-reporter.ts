import type { Store } from '@baton/store';
import type { Logger } from 'pino';
import { agentJson } from './agent-json.js';
import { capacityReport, poolFigures } from './capacity-report.js';
import { toReport } from './capacity-wire.js';
import type { AgentGateway } from './gateway.js';

export interface AgentReporterOptions {
  serverId: string;
  /** Reports at least this often (the agents' heartbeat). */
  intervalMs: number;
  /** How long a report stands without renewal: a server that died drops out after it. */
  ttlMs: number;
  /**
   * Whether other schedulers may read the reports now. When none do (one server, as with
   * SQLite), changes are not reported as they happen, only on the timer: a report is a store
   * write, and the hot path makes many changes a second.
   */
  othersListening: () => boolean;
  logger: Logger;
}

/**
 * Tells the store, for other servers' schedulers, what room this server's agents have: after
 * any change (coalesced over a few milliseconds) and on a timer, then announces it with a
 * `capacity` event so schedulers look again.
 */
export class AgentReporter {
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private reporting: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly onChange = () => this.schedule();

  constructor(
    private readonly store: Store,
    private readonly gateway: AgentGateway,
    private readonly options: AgentReporterOptions,
  ) {}

  start(): void {
    this.gateway.on('capacity', this.onChange);
    this.gateway.on('usage', this.onChange);
    this.timer = setInterval(() => void this.report(), this.options.intervalMs);
    this.timer.unref();
    void this.report();
  }

  stop(): void {
    this.stopped = true;
    this.gateway.off('capacity', this.onChange);
    this.gateway.off('usage', this.onChange);
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
  }

  private schedule(): void {
    if (this.soon || this.stopped || !this.options.othersListening()) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      void this.report();
    }, 20);
    this.soon.unref();
  }

  private report(): Promise<void> {
    if (this.reporting) {
      this.again = true;
      return this.reporting;
    }
    this.reporting = (async () => {
      try {
        const { serverId, ttlMs } = this.options;
        const sessions = this.gateway.agents();
        const report = toReport(this.gateway.capacity(), {
          views: sessions.map(agentJson),
          pools: capacityReport(sessions),
          poolFigures: poolFigures(sessions),
        });
        await this.store.putAgents(serverId, report, ttlMs);
        await this.store.publish({ type: 'capacity', serverId });
      } catch (err) {
        this.options.logger.warn({ err }, 'could not report agents to the store; retrying');
      }
    })().finally(() => {
      this.reporting = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.schedule();
      }
    });
    return this.reporting;
  }
}
