import { EventEmitter } from 'node:events';
import type {
  AgentCapacity,
  AgentInbox,
  AgentLink,
  AgentRegistration,
  Completion,
  JobAssignment,
  LeaseRef,
  RegisteredAgent,
  TransitionResult,
} from '@baton/core';
import { ValidationError, newAgentId } from '@baton/core';
import type { Store } from '@baton/store';
import { Batcher } from './batcher.js';

/** An agent connected to this server. */
export interface AgentSession {
  readonly id: string;
  readonly name: string;
  readonly queues: readonly string[];
  readonly slots: number;
  readonly connectedAt: number;
  /** Jobs handed to the agent and not yet reported finished. */
  readonly held: Set<string>;
  readonly inbox: AgentInbox;
}

export interface GatewayOptions {
  leaseMs: number;
  heartbeatMs: number;
}

interface GatewayEvents {
  /** Free capacity may have grown: an agent joined or finished jobs. */
  capacity: [];
}

/**
 * The agent gateway: the server side of the agent protocol. It tracks each connected agent's
 * free slots, hands assignments to agents, and turns their reports into batched store calls.
 */
export class AgentGateway extends EventEmitter<GatewayEvents> {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly starts: Batcher<LeaseRef, TransitionResult>;
  private readonly heartbeats: Batcher<LeaseRef & { progress?: number }, TransitionResult>;
  private readonly completions: Batcher<Completion, TransitionResult>;

  constructor(
    private readonly store: Store,
    readonly options: GatewayOptions,
  ) {
    super();
    this.starts = new Batcher((items) => store.start(items, options.leaseMs));
    this.heartbeats = new Batcher((items) => store.heartbeat(items, options.leaseMs));
    this.completions = new Batcher((items) => store.complete(items));
  }

  /** A link for an agent running in this process (`baton dev`). */
  localLink(): AgentLink {
    let session: AgentSession | null = null;
    const requireSession = (): AgentSession => {
      if (!session) throw new ValidationError('agent is not registered', undefined, 'AGENT_NOT_REGISTERED');
      return session;
    };
    return {
      register: async (registration, inbox) => {
        session = await this.register(registration, inbox);
        return this.registered(session);
      },
      started: (items) => {
        requireSession();
        return this.starts.add(items);
      },
      heartbeat: (items) => {
        requireSession();
        return this.heartbeats.add(items);
      },
      complete: async (items) => {
        const s = requireSession();
        try {
          return await this.completions.add(items);
        } finally {
          for (const item of items) s.held.delete(item.jobId);
          this.emit('capacity');
        }
      },
      unregister: async () => {
        if (session) this.sessions.delete(session.id);
        session = null;
      },
    };
  }

  private async register(registration: AgentRegistration, inbox: AgentInbox): Promise<AgentSession> {
    if (!Number.isInteger(registration.slots) || registration.slots < 1) {
      throw new ValidationError(`agent slots must be a positive integer, got ${registration.slots}`);
    }
    await this.store.registerTasks(registration.tasks);
    const id = newAgentId();
    const session: AgentSession = {
      id,
      name: registration.name ?? id,
      queues: [...new Set([...registration.queues, ...registration.tasks.map((t) => t.queue)])],
      slots: registration.slots,
      connectedAt: Date.now(),
      held: new Set(),
      inbox,
    };
    this.sessions.set(id, session);
    this.emit('capacity');
    return session;
  }

  private registered(session: AgentSession): RegisteredAgent {
    return { agentId: session.id, leaseMs: this.options.leaseMs, heartbeatMs: this.options.heartbeatMs };
  }

  /** Free capacity of every connected agent, for placement. */
  capacity(): AgentCapacity[] {
    return [...this.sessions.values()].map((s) => ({ id: s.id, queues: s.queues, freeSlots: s.slots - s.held.size }));
  }

  agents(): readonly AgentSession[] {
    return [...this.sessions.values()];
  }

  /** Hands assignments to their agents. An assignment for a departed agent is left to lease expiry. */
  dispatch(assignments: JobAssignment[]): void {
    const byAgent = new Map<AgentSession, JobAssignment[]>();
    for (const a of assignments) {
      const session = a.job.agentId === null ? undefined : this.sessions.get(a.job.agentId);
      if (!session) continue;
      session.held.add(a.job.id);
      let list = byAgent.get(session);
      if (!list) byAgent.set(session, (list = []));
      list.push(a);
    }
    for (const [session, list] of byAgent) session.inbox.deliver(list);
  }

  /** Tells the agent holding a job to stop it. */
  abort(jobId: string, agentId: string | null, reason: string): void {
    if (agentId === null) return;
    this.sessions.get(agentId)?.inbox.abort([jobId], reason);
  }
}
