import type { AgentInbox, AgentRegistration, RegisteredAgent } from '@baton/core';

/**
 * An inbox that also hears when a link registers its agent again after a lost connection:
 * resumed under its id, or, refused a resume (`RESUME_REFUSED`), anew under another id.
 */
export interface ReregisteredInbox extends AgentInbox {
  reregistered?(registered: RegisteredAgent): void;
}

/**
 * What a link presents to take its agent's session back after a reconnect: the id and the
 * per-session secret of its last registration. None before the first, nor after a refusal.
 */
export class ResumeTicket {
  private agentId: string | null = null;
  /** Proves a resume comes from this agent (never logged). */
  private secret: string | null = null;

  /** The id of the last registration, null before the first or after a refusal. */
  get id(): string | null {
    return this.agentId;
  }

  /** The `resume` of the next registration, with the jobs the agent still runs. */
  resume(inbox: AgentInbox): AgentRegistration['resume'] {
    if (this.agentId === null) return undefined;
    return { agentId: this.agentId, jobs: inbox.held(), ...(this.secret !== null && { secret: this.secret }) };
  }

  remember(registered: RegisteredAgent): void {
    this.agentId = registered.agentId;
    this.secret = registered.resumeSecret;
  }

  /** The server refused the resume: the next registration joins as a new agent. */
  forget(): void {
    this.agentId = null;
    this.secret = null;
  }
}
