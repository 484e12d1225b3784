import type {
  AddStepsRequest,
  AddedSteps,
  AgentInbox,
  AgentLink,
  AgentRegistration,
  GpuHealth,
  JobAssignment,
  LingeringJob,
  LingeringReport,
  RegisteredAgent,
} from '@baton/core';
import { ValidationError } from '@baton/core';
import type { Logger } from 'pino';
import type { AgentReports } from './agent-reports.js';
import type { AgentSession } from './agent-session.js';

/**
 * One agent's connection, in process or over a WebSocket: the agent protocol's server side
 * for that agent. Every call after `register` acts on the agent's session.
 */
export interface AgentConnection extends Omit<AgentLink, 'register'>, LingeringReport {
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

/** What a connection needs of the gateway that owns the sessions. */
export interface ConnectionHost {
  readonly sessions: Map<string, AgentSession>;
  readonly reports: AgentReports;
  readonly logger: Logger;
  register(
    registration: AgentRegistration,
    inbox: AgentInbox,
  ): Promise<{ session: AgentSession; registered: RegisteredAgent }>;
  gpuHealth(session: AgentSession, changes: GpuHealth[]): Promise<void>;
  lingering(session: AgentSession, jobs: LingeringJob[]): void;
  /** A running step of the agent's grows its workflow (the lease in the request is the check). */
  addSteps(session: AgentSession, request: AddStepsRequest): Promise<AddedSteps>;
  /** The session's transport closed: its reconnect grace starts. */
  disconnected(session: AgentSession): void;
}

/**
 * A connection for an agent whose messages arrive through `inbox`'s transport. A call acts
 * only while the session registered on this connection is still the agent's current one (a
 * reconnect elsewhere or a newer connection takes it over). An in-process agent cannot fall
 * silent while its server lives, so it is never declared dead.
 */
export function openConnection(
  host: ConnectionHost,
  inbox: AgentInbox,
  options: { inProcess?: boolean } = {},
): AgentConnection {
  let session: AgentSession | null = null;
  const current = (): AgentSession => {
    if (!session || host.sessions.get(session.id) !== session || session.inbox !== inbox) {
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
      const result = await host.register(registration, inbox);
      session = result.session;
      session.inProcess = options.inProcess ?? false;
      return result.registered;
    },
    started: async (items) => host.reports.started(current(), items),
    heartbeat: async (items) => host.reports.heartbeat(current(), items),
    complete: async (items) => host.reports.complete(current(), items),
    logs: async (chunks) => host.reports.logs(current(), chunks),
    undeliverable: (failed) => host.reports.undeliverable(session, failed),
    gpuHealth: async (gpus) => host.gpuHealth(current(), gpus),
    lingering: async (jobs) => host.lingering(current(), jobs),
    addSteps: async (request) => host.addSteps(current(), request),
    drain: async () => {
      const s = current();
      s.state = 'draining';
      host.logger.info({ agentId: s.id }, 'agent draining');
    },
    unregister: async () => {
      const s = current();
      host.sessions.delete(s.id);
      session = null;
      host.logger.info({ agentId: s.id, name: s.name }, 'agent left');
    },
    disconnected: () => {
      if (!session || session.inbox !== inbox) return;
      session.inbox = null;
      session.state = 'disconnected';
      session.disconnectedAt = Date.now();
      host.logger.warn({ agentId: session.id, name: session.name }, 'agent disconnected');
      host.disconnected(session);
    },
    agentId: () => session?.id ?? null,
    seen: () => {
      if (session && session.inbox === inbox) session.lastSeenAt = Date.now();
    },
  };
}
