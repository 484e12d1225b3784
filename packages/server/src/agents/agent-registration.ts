import type { AgentInbox, AgentRegistration, RegisteredAgent } from '@baton/core';
import {
  BatonError,
  ValidationError,
  describeIssues,
  newAgentId,
  poolDeclarationProblem,
  registrationSchema,
} from '@baton/core';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';
import { routesOf } from './agent-routes.js';
import { AgentSession, declarationOf } from './agent-session.js';
import type { AgentLiveness } from './liveness.js';

/** What registering an agent needs of the gateway. */
export interface RegistrationHost {
  readonly store: Store;
  readonly sessions: Map<string, AgentSession>;
  readonly liveness: AgentLiveness;
  readonly options: { leaseMs: number; heartbeatMs: number; routeTtlMs: number; logger: Logger };
}

/**
 * Registers an agent, or re-attaches a resuming one to its session (checking its secret and
 * each job's lease). Only the registration as the schema parsed it is used: the raw message
 * may carry anything (an in-process caller is no more trusted than a remote one).
 */
export async function registerAgent(
  host: RegistrationHost,
  raw: AgentRegistration,
  inbox: AgentInbox,
): Promise<{ session: AgentSession; registered: RegisteredAgent }> {
  const registration = validRegistration(raw);
  const { store, sessions, liveness, options } = host;
  // Each task on every queue the agent takes, as placement places them (bounded). They live
  // for the route TTL, renewed while the server has the agent's session (route-keeper.ts).
  await store.registerTasks(routesOf(registration), options.routeTtlMs);
  const now = Date.now();
  const resume = registration.resume;
  const abort: string[] = [];
  let session = resume ? sessions.get(resume.agentId) : undefined;
  if (session && !session.resumableWith(resume?.secret)) {
    // Agent ids are public (GET /api/agents): only the secret proves it is the same agent.
    options.logger.warn({ agentId: session.id }, 'resume refused: missing or wrong resume secret');
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
    liveness.reconnected(session);
    session.releaseAll();
  } else {
    session = new AgentSession(id, declaration, inbox, now);
    // A resume reaching a server without its session (restarted, or another of the fleet)
    // keeps its secret, so the agent can go back to a server that still has the old one.
    resumeSecret = session.issueResumeSecret(resume?.secret);
    sessions.set(session.id, session);
  }
  if (resume && resume.jobs.length > 0) {
    // Only jobs whose lease is still current stay; the rest run elsewhere by now.
    await liveness.settled(id);
    const results = await store.heartbeat(
      resume.jobs.map(({ jobId, leaseToken }) => ({ jobId, leaseToken })),
      options.leaseMs,
    );
    session.leasesRenewedAt = Date.now();
    resume.jobs.forEach((job, i) => {
      // The agent does not say when a resumed job started: its end bound is unknown.
      if (results[i]?.ok) session.hold(job.jobId, { ...job, endsBy: Infinity });
      else abort.push(job.jobId);
    });
  }
  options.logger.info(
    { agentId: session.id, name: session.name, resumed: resume !== undefined, kept: session.held.size, abort },
    'agent registered',
  );
  return {
    session,
    registered: {
      agentId: session.id,
      leaseMs: options.leaseMs,
      heartbeatMs: options.heartbeatMs,
      ...(abort.length > 0 && { abort }),
      resumeSecret,
    },
  };
}

/** The registration as the schema parsed it, or INVALID_REGISTRATION naming what is wrong. */
function validRegistration(raw: AgentRegistration): AgentRegistration {
  const parsed = registrationSchema.safeParse(raw);
  if (!parsed.success) {
    const { message, details } = describeIssues(parsed.error, 'registration');
    throw new ValidationError(message, details, 'INVALID_REGISTRATION');
  }
  // Across fields: a class listed twice, or an agent both dedicated and preemptible.
  const poolProblem = poolDeclarationProblem(parsed.data);
  if (poolProblem) throw new ValidationError(`registration: ${poolProblem}`, undefined, 'INVALID_REGISTRATION');
  return parsed.data;
}
