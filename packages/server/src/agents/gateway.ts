import { EventEmitter } from 'node:events';
import type {
  AddStepsRequest,
  AddedSteps,
  AgentCapacity,
  AgentInbox,
  AgentLink,
  GpuHealth,
  JobAssignment,
  LingeringJob,
  LingeringReport,
} from '@baton/core';
import { ValidationError } from '@baton/core';
import type { Offer, Store } from '@baton/store';
import type { Logger } from 'pino';
import type { OfferedHints } from './admission.js';
import { admit, dispatch, hintsOf } from './admission.js';
import type { AgentConnection, ConnectionHost } from './agent-connection.js';
import { openConnection } from './agent-connection.js';
import { registerAgent } from './agent-registration.js';
import { AgentReports } from './agent-reports.js';
import type { AgentSession } from './agent-session.js';
import { moveOffUnhealthyGpus } from './gpu-failover.js';
import { AgentLiveness } from './liveness.js';
import { RouteKeeper } from './route-keeper.js';
import type { JobMetrics } from '../metrics/job-metrics.js';
import type { RuntimeRecorder } from '../estimates/runtime-recorder.js';

export type { AgentConnection } from './agent-connection.js';

export interface GatewayOptions {
  leaseMs: number;
  heartbeatMs: number;
  /** A connected agent silent this long is dead: its session and capacity go; its leases run out. */
  agentTimeoutMs: number;
  /** An agent whose connection closed and is not back this long after is lost: its jobs are released. */
  reconnectGraceMs: number;
  /** How long an agent's task routes stay live in the store unless renewed (see route-keeper.ts). */
  routeTtlMs: number;
  logger: Logger;
  /** Grows workflows for agents' running steps (the server's workflow-growth.ts). */
  growth: { add(request: AddStepsRequest): Promise<AddedSteps> };
  /** Counts outcomes, failovers and waits (absent: metrics are off). */
  metrics?: JobMetrics | undefined;
  /** Takes succeeded attempts' runtimes for learned estimates (absent: none are learned). */
  runtimes?: RuntimeRecorder | undefined;
}

interface GatewayEvents {
  /** Free capacity may have grown: an agent joined or finished jobs. */
  capacity: [];
  /** Capacity was taken: jobs were handed to agents. */
  usage: [];
  /** An agent was declared dead: its jobs are released, or their leases run out soon. */
  agentLost: [agentId: string];
}

/**
 * The agent gateway: owns every agent's session on this server and wires the parts that act
 * on them: registration (`agent-registration.ts`), each connection's calls
 * (`agent-connection.ts`) and their batched store reports (`agent-reports.ts`), admission of
 * placements and hand-over of assignments (`admission.ts`), moving jobs off failed GPUs
 * (`gpu-failover.ts`), and declaring silent agents dead (`liveness.ts`).
 */
export class AgentGateway extends EventEmitter<GatewayEvents> {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly reports: AgentReports;
  private readonly liveness: AgentLiveness;
  private readonly routeKeeper: RouteKeeper;
  private readonly host: ConnectionHost;

  constructor(
    private readonly store: Store,
    readonly options: GatewayOptions,
  ) {
    super();
    this.reports = new AgentReports(store, options, () => this.emit('capacity'));
    this.liveness = new AgentLiveness(store, options, {
      sessions: () => this.sessions.values(),
      forget: (session) => {
        if (this.sessions.get(session.id) !== session) return false;
        this.sessions.delete(session.id);
        this.emit('agentLost', session.id);
        return true;
      },
      freed: () => this.emit('capacity'),
    });
    this.routeKeeper = new RouteKeeper(store, options, () => this.sessions.values());
    this.host = {
      sessions: this.sessions,
      reports: this.reports,
      logger: options.logger,
      register: async (registration, inbox) => {
        const registered = await registerAgent(
          { store, sessions: this.sessions, liveness: this.liveness, options },
          registration,
          inbox,
        );
        this.emit('capacity');
        return registered;
      },
      gpuHealth: (session, changes) => this.gpuHealth(session, changes),
      lingering: (session, jobs) => this.lingering(session, jobs),
      // Any registered agent may ask: the step's lease token, checked by the store, is the credential.
      addSteps: (_session, request) => options.growth.add(request),
      disconnected: (session) => this.liveness.disconnected(session),
    };
  }

  /** Starts declaring silent and disconnected agents dead, and renewing agents' routes. Idempotent. */
  start(): void {
    this.liveness.start();
    this.routeKeeper.start();
  }

  stop(): void {
    this.liveness.stop();
    this.routeKeeper.stop();
  }

  /** A link for an agent running in this process (`baton dev`). */
  localLink(): AgentLink & LingeringReport {
    let connection: AgentConnection | null = null;
    const open = (): AgentConnection => {
      if (!connection) throw new ValidationError('agent is not registered', undefined, 'AGENT_NOT_REGISTERED');
      return connection;
    };
    return {
      register: (registration, inbox) => {
        connection ??= this.connect(inbox, { inProcess: true });
        return connection.register(registration);
      },
      started: (items) => open().started(items),
      heartbeat: (items) => open().heartbeat(items),
      complete: (items) => open().complete(items),
      logs: (chunks) => open().logs(chunks),
      gpuHealth: (gpus) => open().gpuHealth(gpus),
      lingering: (jobs) => open().lingering(jobs),
      addSteps: (request) => open().addSteps(request),
      drain: () => open().drain(),
      unregister: () => open().unregister(),
    };
  }

  /**
   * A new connection for an agent whose messages arrive through `inbox`'s transport. An
   * in-process agent cannot fall silent while its server lives, so it is never declared dead.
   */
  connect(inbox: AgentInbox, options: { inProcess?: boolean } = {}): AgentConnection {
    return openConnection(this.host, inbox, options);
  }

  /** Unhealthy GPUs leave capacity; the jobs on them go back to the queue and their agent stops them. */
  private async gpuHealth(session: AgentSession, changes: GpuHealth[]): Promise<void> {
    await moveOffUnhealthyGpus(this.store, this.options.logger, session, changes, this.options.metrics);
    this.emit('capacity');
  }

  /**
   * The agent's handlers that run on after their jobs ended: their room counts as taken until
   * they return, so placement does not give the agent work that would only wait there.
   */
  private lingering(session: AgentSession, jobs: LingeringJob[]): void {
    const before = session.lingering.length;
    session.setLingering(jobs);
    if (jobs.length > 0 || before > 0) {
      this.options.logger.info(
        { agentId: session.id, lingering: jobs.map((j) => j.jobId) },
        'agent handlers lingering',
      );
    }
    // Room came back (a handler returned) or was taken: both change what others are told.
    this.emit('capacity');
  }

  /** Free capacity of every agent that takes work now, for placement. */
  capacity(): AgentCapacity[] {
    const out: AgentCapacity[] = [];
    for (const s of this.sessions.values()) if (s.schedulable) out.push(s.capacity());
    return out;
  }

  agents(): readonly AgentSession[] {
    return [...this.sessions.values()];
  }

  /**
   * Admits placements for this server's agents as far as each still has room, assigns them in
   * the store and hands them over (see admission.ts).
   */
  async admit(offers: readonly Offer[]): Promise<JobAssignment[]> {
    const { assignments, accepted } = await admit(this.store, this.sessions, offers, this.options.leaseMs);
    if (accepted === 0) return [];
    this.options.metrics?.assigned(assignments);
    this.dispatch(assignments, hintsOf(offers));
    if (assignments.length < accepted) this.emit('capacity'); // room held for jobs others took
    return assignments;
  }

  /**
   * Hands assignments to their agents, with each job's priority class and learned runtime when
   * known. An assignment for a departed agent is left to lease expiry.
   */
  dispatch(assignments: JobAssignment[], hints?: Partial<OfferedHints>): void {
    if (dispatch(this.sessions, assignments, hints)) this.emit('usage');
  }

  /**
   * Tells this server's agents to stop these jobs for a higher-class one: each agent aborts
   * them with its `preemptGraceMs` (a command gets SIGTERM, then SIGKILL after it), and each
   * fails with the retryable `PREEMPTED`. Their room stays taken until their outcomes come in.
   * Returns the jobs found held here; those of agents this server does not have are left out.
   */
  preempt(victims: readonly { jobId: string; agentId: string }[], reason: string): string[] {
    const byAgent = new Map<string, string[]>();
    for (const { jobId, agentId } of victims) {
      let list = byAgent.get(agentId);
      if (!list) byAgent.set(agentId, (list = []));
      list.push(jobId);
    }
    const found: string[] = [];
    for (const [agentId, jobIds] of byAgent) {
      const session = this.sessions.get(agentId);
      if (!session) continue;
      const held = session.preempt(jobIds);
      if (held.length === 0) continue;
      found.push(...held);
      session.inbox?.abort(held, reason, { preempt: true });
    }
    return found;
  }

  /** Tells the agent holding a job to stop it. */
  abort(jobId: string, agentId: string | null, reason: string): void {
    if (agentId === null) return;
    this.sessions.get(agentId)?.inbox?.abort([jobId], reason);
  }
}
