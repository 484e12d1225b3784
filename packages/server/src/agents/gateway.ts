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
import { DEFAULT_POOL, ValidationError, describeIssues, newAgentId, registrationSchema } from '@baton/core';
import type { Offer, Store } from '@baton/store';
import type { Logger } from 'pino';
import type { AgentDeclaration } from './agent-session.js';
import { AgentSession } from './agent-session.js';
import { Batcher } from './batcher.js';

export interface GatewayOptions {
  leaseMs: number;
  heartbeatMs: number;
  /** An agent silent (or disconnected) this long is dead: its session and capacity go. */
  agentTimeoutMs: number;
  logger: Logger;
}

interface GatewayEvents {
  /** Free capacity may have grown: an agent joined or finished jobs. */
  capacity: [];
  /** Capacity was taken: jobs were handed to agents. */
  usage: [];
  /** An agent was declared dead; its leases run out soon, if they have not already. */
  agentLost: [agentId: string];
}

/**
 * One agent's connection, in process or over a WebSocket: the agent protocol's server side
 * for that agent. Every call after `register` acts on the agent's session.
 */
export interface AgentConnection extends Omit<AgentLink, 'register'> {
  register(registration: AgentRegistration): Promise<RegisteredAgent>;
  /** The transport went away; the agent may come back within the agent timeout. */
  disconnected(): void;
  /** Any sign of life from the agent (a WebSocket ping). */
  seen(): void;
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
  private livenessTimer: NodeJS.Timeout | null = null;

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
  }

  /** Starts declaring silent agents dead. Idempotent. */
  start(): void {
    if (this.livenessTimer) return;
    this.livenessTimer = setInterval(() => this.checkLiveness(Date.now()), Math.min(1000, this.options.heartbeatMs));
    this.livenessTimer.unref();
  }

  stop(): void {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = null;
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
        current();
        return this.starts.add(items);
      },
      heartbeat: async (items) => {
        current();
        return this.heartbeats.add(items);
      },
      complete: async (items) => {
        const s = current();
        try {
          return await this.completions.add(items);
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
      },
      seen: () => {
        if (session && session.inbox === inbox) session.lastSeenAt = Date.now();
      },
    };
  }

  private async register(
    registration: AgentRegistration,
    inbox: AgentInbox,
  ): Promise<{ session: AgentSession; registered: RegisteredAgent }> {
    const parsed = registrationSchema.safeParse(registration);
    if (!parsed.success) {
      const { message, details } = describeIssues(parsed.error, 'registration');
      throw new ValidationError(message, details, 'INVALID_REGISTRATION');
    }
    await this.store.registerTasks(registration.tasks);
    const now = Date.now();
    const resume = registration.resume;
    const abort: string[] = [];
    let session = resume ? this.sessions.get(resume.agentId) : undefined;
    const id = session?.id ?? resume?.agentId ?? newAgentId();
    const declaration = declarationOf(registration, id);
    if (session) {
      // The agent came back (or a half-open connection was replaced): same session, new transport.
      session.declare(declaration);
      session.inbox = inbox;
      session.state = 'connected';
      session.disconnectedAt = null;
      session.lastSeenAt = now;
      session.releaseAll();
    } else {
      session = new AgentSession(id, declaration, inbox, now);
      this.sessions.set(session.id, session);
    }
    if (resume && resume.jobs.length > 0) {
      // Only jobs whose lease is still current stay; the rest run elsewhere by now.
      const results = await this.store.heartbeat(
        resume.jobs.map(({ jobId, leaseToken }) => ({ jobId, leaseToken })),
        this.options.leaseMs,
      );
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
      },
    };
  }

  /** Unhealthy GPUs leave capacity; the jobs on them go back to the queue and their agent stops them. */
  private async gpuHealth(session: AgentSession, changes: GpuHealth[]): Promise<void> {
    const moved: { jobId: string; leaseToken: string; index: number; reason: string }[] = [];
    for (const change of changes) {
      const gpu = session.gpus.get(change.index);
      if (!gpu) continue;
      gpu.healthy = change.healthy;
      if (change.healthy) {
        delete gpu.reason;
        continue;
      }
      gpu.reason = change.reason ?? 'reported unhealthy';
      const jobId = session.gpuHolder(change.index);
      const held = jobId === undefined ? undefined : session.held.get(jobId);
      if (jobId !== undefined && held && !moved.some((m) => m.jobId === jobId)) {
        moved.push({ jobId, leaseToken: held.leaseToken, index: change.index, reason: gpu.reason });
      }
    }
    this.options.logger.warn({ agentId: session.id, changes, moved: moved.map((m) => m.jobId) }, 'GPU health changed');
    if (moved.length > 0) {
      await this.store.release(
        moved.map((m) => ({
          jobId: m.jobId,
          leaseToken: m.leaseToken,
          error: {
            code: 'GPU_UNHEALTHY',
            message: `GPU ${m.index} on agent ${session.name} became unhealthy (${m.reason}); the job moves elsewhere`,
            retryable: true,
          },
        })),
      );
      for (const m of moved) session.release(m.jobId);
      session.inbox?.abort(
        moved.map((m) => m.jobId),
        'GPU became unhealthy; the job runs again elsewhere',
      );
    }
    this.emit('capacity');
  }

  private checkLiveness(now: number): void {
    const timeout = this.options.agentTimeoutMs;
    for (const session of this.sessions.values()) {
      if (session.inProcess) continue;
      const silentSince = session.disconnectedAt ?? session.lastSeenAt;
      if (now - silentSince < timeout) continue;
      this.sessions.delete(session.id);
      this.options.logger.warn(
        { agentId: session.id, name: session.name, jobs: [...session.held.keys()] },
        `agent silent for ${now - silentSince} ms: declared dead; its jobs run again elsewhere`,
      );
      session.inbox?.abort([...session.held.keys()], 'agent declared dead');
      session.inbox = null;
      session.releaseAll();
      this.emit('agentLost', session.id);
    }
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

function declarationOf(r: AgentRegistration, id: string): AgentDeclaration {
  const queues = [...new Set([...r.queues, ...r.tasks.map((t) => t.queue)])];
  return {
    name: r.name ?? id,
    pool: r.pool ?? DEFAULT_POOL,
    queues,
    tasks: new Set(r.tasks.map((t) => t.task)),
    tags: r.tags ?? [],
    slots: r.slots,
    cpu: r.cpu ?? Infinity,
    memoryMb: r.memoryMb ?? Infinity,
    gpus: (r.gpus ?? []).map((g) => ({ ...g })),
  };
}
