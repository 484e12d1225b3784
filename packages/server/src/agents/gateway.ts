import { EventEmitter } from 'node:events';
import type {
  AgentCapacity,
  AgentInbox,
  AgentLink,
  AgentRegistration,
  Completion,
  GpuHealth,
  JobAssignment,
  LeaseRef,
  LogChunk,
  Placement,
  RegisteredAgent,
  TransitionResult,
} from '@baton/core';
import { BatonError, ValidationError, checkResult, describeIssues, newAgentId, registrationSchema } from '@baton/core';
import type { Offer, Store } from '@baton/store';
import type { Logger } from 'pino';
import { routesOf } from './agent-routes.js';
import { AgentSession, declarationOf } from './agent-session.js';
import { Batcher } from './batcher.js';
import { moveOffUnhealthyGpus } from './gpu-failover.js';
import { AgentLiveness } from './liveness.js';

export interface GatewayOptions {
  leaseMs: number;
  heartbeatMs: number;
  /** A connected agent silent this long is dead: its session and capacity go; its leases run out. */
  agentTimeoutMs: number;
  /** An agent whose connection closed and is not back this long after is lost: its jobs are released. */
  reconnectGraceMs: number;
  logger: Logger;
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
 * One agent's connection, in process or over a WebSocket: the agent protocol's server side
 * for that agent. Every call after `register` acts on the agent's session.
 */
export interface AgentConnection extends Omit<AgentLink, 'register'> {
  register(registration: AgentRegistration): Promise<RegisteredAgent>;
  /** The transport went away; the agent may come back within the reconnect grace. */
  disconnected(): void;
  /** Any sign of life from the agent (a WebSocket ping). */
  seen(): void;
  /** The agent's id once registered on this connection, for logs. */
  agentId(): string | null;
  /** Assignments the transport could not encode for the agent: their jobs fail, their room frees. */
  undeliverable(failed: { assignment: JobAssignment; reason: string }[]): Promise<void>;
}

/**
 * The agent gateway: tracks every agent's declared capacity and what its jobs hold, hands
 * assignments to agents, turns their reports into batched store calls, moves jobs off failed
 * GPUs, and declares silent agents dead.
 */
export class AgentGateway extends EventEmitter<GatewayEvents> {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly starts: Batcher<LeaseRef, TransitionResult>;
  private readonly heartbeats: Batcher<LeaseRef & { progress?: number }, TransitionResult>;
  private readonly completions: Batcher<Completion, TransitionResult>;
  private readonly logWrites: Batcher<LogChunk, null>;
  private readonly liveness: AgentLiveness;

  constructor(
    private readonly store: Store,
    readonly options: GatewayOptions,
  ) {
    super();
    this.starts = new Batcher((items) => store.start(items, options.leaseMs));
    this.heartbeats = new Batcher((items) => store.heartbeat(items, options.leaseMs));
    this.completions = new Batcher((items) => store.complete(items));
    this.logWrites = new Batcher(async (chunks) => {
      await store.appendLogs(chunks);
      return chunks.map(() => null);
    });
    this.liveness = new AgentLiveness(store, options, {
      sessions: () => this.sessions.values(),
      forget: (session) => {
        if (this.sessions.get(session.id) !== session) return false;
        this.sessions.delete(session.id);
        this.emit('agentLost', session.id);
        return true;
      },
    });
  }

  /** Starts declaring silent and disconnected agents dead. Idempotent. */
  start(): void {
    this.liveness.start();
  }

  stop(): void {
    this.liveness.stop();
  }

  /** A link for an agent running in this process (`baton dev`). */
  localLink(): AgentLink {
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
      drain: () => open().drain(),
      unregister: () => open().unregister(),
    };
  }

  /**
   * A new connection for an agent whose messages arrive through `inbox`'s transport. An
   * in-process agent cannot fall silent while its server lives, so it is never declared dead.
   */
  connect(inbox: AgentInbox, options: { inProcess?: boolean } = {}): AgentConnection {
    let session: AgentSession | null = null;
    const current = (): AgentSession => {
      if (!session || this.sessions.get(session.id) !== session || session.inbox !== inbox) {
        throw new ValidationError(
          'agent is not registered on this connection; register first',
          undefined,
          'AGENT_NOT_REGISTERED',
        );
      }
      session.lastSeenAt = Date.now();
      return session;
    };
    return {
      register: async (registration) => {
        const result = await this.register(registration, inbox);
        session = result.session;
        session.inProcess = options.inProcess ?? false;
        return result.registered;
      },
      started: async (items) => {
        const s = current();
        const results = await this.starts.add(items);
        s.leasesRenewedAt = Date.now();
        return results;
      },
      heartbeat: async (items) => {
        const s = current();
        const results = await this.heartbeats.add(items);
        s.leasesRenewedAt = Date.now();
        return results;
      },
      complete: async (items) => {
        const s = current();
        try {
          return await this.completions.add(items.map(refuseOversizedResult));
        } finally {
          for (const item of items) s.release(item.jobId);
          this.emit('capacity');
        }
      },
      logs: async (chunks) => {
        const s = current();
        // Output is kept only for jobs this agent holds: a stray or stale writer changes nothing.
        await this.logWrites.add(chunks.filter((c) => s.held.has(c.jobId)));
      },
      undeliverable: async (failed) => {
        if (failed.length === 0) return;
        this.options.logger.warn(
          { agentId: session?.id, jobs: failed.map((f) => f.assignment.job.id) },
          'jobs cannot be encoded for their agent: failing them',
        );
        try {
          // Not retryable: the payload is the same on every attempt, and so is the failure.
          await this.completions.add(
            failed.map(({ assignment, reason }) => ({
              jobId: assignment.job.id,
              leaseToken: assignment.leaseToken,
              outcome: 'failed' as const,
              error: {
                code: 'UNDELIVERABLE',
                message: `the job's payload cannot be encoded for the agent: ${reason}`,
                retryable: false,
              },
            })),
          );
        } finally {
          for (const { assignment } of failed) session?.release(assignment.job.id);
          this.emit('capacity');
        }
      },
      gpuHealth: async (gpus) => this.gpuHealth(current(), gpus),
      drain: async () => {
        const s = current();
        s.state = 'draining';
        this.options.logger.info({ agentId: s.id }, 'agent draining');
      },
      unregister: async () => {
        const s = current();
        this.sessions.delete(s.id);
        session = null;
        this.options.logger.info({ agentId: s.id, name: s.name }, 'agent left');
      },
      disconnected: () => {
        if (!session || session.inbox !== inbox) return;
        session.inbox = null;
        session.state = 'disconnected';
        session.disconnectedAt = Date.now();
        this.options.logger.warn({ agentId: session.id, name: session.name }, 'agent disconnected');
        this.liveness.disconnected(session);
      },
      agentId: () => session?.id ?? null,
      seen: () => {
        if (session && session.inbox === inbox) session.lastSeenAt = Date.now();
      },
    };
  }

  private async register(
    raw: AgentRegistration,
    inbox: AgentInbox,
  ): Promise<{ session: AgentSession; registered: RegisteredAgent }> {
    const parsed = registrationSchema.safeParse(raw);
    if (!parsed.success) {
      const { message, details } = describeIssues(parsed.error, 'registration');
      throw new ValidationError(message, details, 'INVALID_REGISTRATION');
    }
    const registration: AgentRegistration = parsed.data;
    // Each task on every queue the agent takes, as placement places them (bounded).
    await this.store.registerTasks(routesOf(registration));
    const now = Date.now();
    const resume = registration.resume;
    const abort: string[] = [];
    let session = resume ? this.sessions.get(resume.agentId) : undefined;
    if (session && !session.resumableWith(resume?.secret)) {
      // Agent ids are public (GET /api/agents): only the secret proves it is the same agent.
      this.options.logger.warn({ agentId: session.id }, 'resume refused: missing or wrong resume secret');
      throw new BatonError(
        'RESUME_REFUSED',
        `agent ${session.id} has a session here and this resume did not present its secret; register without resume to join as a new agent`,
        403,
      );
    }
    const id = session?.id ?? resume?.agentId ?? newAgentId();
    const declaration = declarationOf(registration, id);
    let resumeSecret: string;
    if (session) {
      resumeSecret = resume?.secret ?? session.issueResumeSecret();
      // The agent came back (or a half-open connection was replaced): same session, new transport.
      session.declare(declaration);
      session.inbox = inbox;
      session.state = 'connected';
      session.disconnectedAt = null;
      session.lastSeenAt = now;
      this.liveness.reconnected(session);
      session.releaseAll();
    } else {
      session = new AgentSession(id, declaration, inbox, now);
      // A resume reaching a server without its session (restarted, or another of the fleet)
      // keeps its secret, so the agent can go back to a server that still has the old one.
      resumeSecret = session.issueResumeSecret(resume?.secret);
      this.sessions.set(session.id, session);
    }
    if (resume && resume.jobs.length > 0) {
      // Only jobs whose lease is still current stay; the rest run elsewhere by now.
      await this.liveness.settled(id);
      const results = await this.store.heartbeat(
        resume.jobs.map(({ jobId, leaseToken }) => ({ jobId, leaseToken })),
        this.options.leaseMs,
      );
      session.leasesRenewedAt = Date.now();
      resume.jobs.forEach((job, i) => {
        // The agent does not say when a resumed job started: its end bound is unknown.
        if (results[i]?.ok) session.hold(job.jobId, { ...job, endsBy: Infinity });
        else abort.push(job.jobId);
      });
    }
    this.options.logger.info(
      { agentId: session.id, name: session.name, resumed: resume !== undefined, kept: session.held.size, abort },
      'agent registered',
    );
    this.emit('capacity');
    return {
      session,
      registered: {
        agentId: session.id,
        leaseMs: this.options.leaseMs,
        heartbeatMs: this.options.heartbeatMs,
        ...(abort.length > 0 && { abort }),
        resumeSecret,
      },
    };
  }

  /** Unhealthy GPUs leave capacity; the jobs on them go back to the queue and their agent stops them. */
  private async gpuHealth(session: AgentSession, changes: GpuHealth[]): Promise<void> {
    await moveOffUnhealthyGpus(this.store, this.options.logger, session, changes);
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
   * Admits placements for this server's agents — from its own scheduler or offered by another
   * server's — as far as each agent still has room (checked here, where the agents' use is
   * known exactly), assigns them in the store and hands them over. A placement that no longer
   * fits is dropped: its job stays queued for the next pass.
   */
  async admit(offers: readonly Offer[]): Promise<JobAssignment[]> {
    const accepted: Placement[] = [];
    // Each agent's room is worked out once per batch, then taken from as offers are accepted.
    const room = new Map<AgentSession, AgentCapacity & { freeGpus: number[] }>();
    for (const offer of offers) {
      const session = this.sessions.get(offer.agentId);
      if (!session?.schedulable) continue;
      let free = room.get(session);
      if (!free) {
        const c = session.capacity();
        room.set(session, (free = { ...c, freeGpus: [...c.freeGpus] }));
      }
      const r = offer.resources;
      if (free.freeSlots < r.slots || free.freeCpu < r.cpu || free.freeMemoryMb < r.memoryMb) continue;
      // The GPUs offered, if still free; otherwise any free ones (the offer may be stale).
      const gpus =
        r.gpus === 0
          ? []
          : offer.gpus.every((i) => free.freeGpus.includes(i))
            ? offer.gpus
            : free.freeGpus.slice(0, r.gpus);
      if (gpus.length < r.gpus) continue;
      free.freeSlots -= r.slots;
      free.freeCpu -= r.cpu;
      free.freeMemoryMb -= r.memoryMb;
      if (gpus.length > 0) free.freeGpus = free.freeGpus.filter((i) => !gpus.includes(i));
      // Held at once, so an admission running meanwhile sees the room as taken.
      session.hold(offer.jobId, { leaseToken: '', resources: r, gpus, endsBy: Infinity });
      accepted.push({ jobId: offer.jobId, agentId: offer.agentId, gpus });
    }
    if (accepted.length === 0) return [];
    let assignments: JobAssignment[] = [];
    try {
      assignments = await this.store.assign(accepted, this.options.leaseMs);
    } finally {
      for (const p of accepted) this.sessions.get(p.agentId)?.release(p.jobId);
    }
    this.dispatch(assignments);
    if (assignments.length < accepted.length) this.emit('capacity'); // room held for jobs others took
    return assignments;
  }

  /** Hands assignments to their agents. An assignment for a departed agent is left to lease expiry. */
  dispatch(assignments: JobAssignment[]): void {
    const now = Date.now();
    const byAgent = new Map<AgentSession, JobAssignment[]>();
    for (const a of assignments) {
      const session = this.sessions.get(a.job.agentId);
      if (!session?.inbox) continue;
      session.leasesRenewedAt = now;
      session.hold(a.job.id, {
        leaseToken: a.leaseToken,
        resources: a.job.resources,
        gpus: a.job.gpus,
        endsBy: a.job.timeoutMs === null ? Infinity : now + a.job.timeoutMs,
      });
      let list = byAgent.get(session);
      if (!list) byAgent.set(session, (list = []));
      list.push(a);
    }
    for (const [session, list] of byAgent) session.inbox?.deliver(list);
    if (byAgent.size > 0) this.emit('usage');
  }

  /** Tells the agent holding a job to stop it. */
  abort(jobId: string, agentId: string | null, reason: string): void {
    if (agentId === null) return;
    this.sessions.get(agentId)?.inbox?.abort([jobId], reason);
  }
}

/** A result the store may not keep (too large, not JSON) fails its job instead of being stored. */
function refuseOversizedResult(item: Completion): Completion {
  if (item.outcome !== 'succeeded') return item;
  const error = checkResult(item.result);
  if (!error) return item;
  const { result: _result, ...rest } = item;
  return { ...rest, outcome: 'failed', error };
}
