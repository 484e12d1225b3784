import type { JobError } from '@baton/core';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';
import type { AgentSession, HeldJob } from './agent-session.js';
import type { JobMetrics } from '../metrics/job-metrics.js';

export interface LivenessOptions {
  leaseMs: number;
  heartbeatMs: number;
  /** A connected agent silent this long is dead: its session goes, its leases run out. */
  agentTimeoutMs: number;
  /** An agent whose connection closed and that is not back this long after is gone: its jobs are released. */
  reconnectGraceMs: number;
  logger: Logger;
  metrics?: JobMetrics | undefined;
}

/** What the liveness watch needs of the gateway that owns the sessions. */
export interface LivenessHost {
  sessions(): Iterable<AgentSession>;
  /** Forgets `session` if it is still its agent's session here; says whether it did. */
  forget(session: AgentSession): boolean;
  /** Room on an agent came back. */
  freed(): void;
}

/**
 * Declares agents dead, two ways:
 *
 * - **Closed connection**: the server saw the agent's transport close. The agent gets
 *   `reconnectGraceMs` to come back (to this server or another of the fleet) and keep its jobs;
 *   after that it is gone and its jobs go back to the queue at once (`AGENT_LOST`), without
 *   waiting for their leases.
 * - **Silence**: the connection looks open but nothing arrives (a partition, a frozen process).
 *   After `agentTimeoutMs` the session goes; the jobs wait for their leases, as the agent may
 *   still be running them and cannot be told to stop.
 *
 * A job is released only while its lease is still the one this server last renewed. An agent
 * that reconnected to another server within the grace has had its leases renewed there (on
 * resume and every heartbeat since), with the same lease tokens, so the token check in
 * `store.release` alone would not stop this server from moving a job that still runs: the
 * release is conditional on the lease expiry this server set (see `releaseJobs`).
 */
export class AgentLiveness {
  private silenceTimer: NodeJS.Timeout | null = null;
  private readonly graceTimers = new Map<AgentSession, NodeJS.Timeout>();
  /** Releases under way, by agent id: a resume of that agent waits for them (see `settled`). */
  private readonly releasing = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly options: LivenessOptions,
    private readonly host: LivenessHost,
  ) {}

  /** Starts watching. Idempotent. */
  start(): void {
    if (this.silenceTimer) return;
    const every = Math.min(1000, this.options.heartbeatMs);
    this.silenceTimer = setInterval(() => this.checkSilence(Date.now()), every);
    this.silenceTimer.unref();
  }

  /**
   * Stops watching; pending graces are dropped. A server shutting down closes every agent's
   * connection: those agents are not lost, they reconnect elsewhere or to the restarted server.
   */
  stop(): void {
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.silenceTimer = null;
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
  }

  /** The agent's connection closed (the session is already marked `disconnected`): its grace starts. */
  disconnected(session: AgentSession): void {
    if (!this.silenceTimer || session.inProcess) return;
    clearTimeout(this.graceTimers.get(session));
    const timer = setTimeout(() => {
      this.graceTimers.delete(session);
      this.graceOver(session);
    }, this.options.reconnectGraceMs);
    timer.unref();
    this.graceTimers.set(session, timer);
  }

  /** The agent is back on this server within its grace: it keeps its session and its jobs. */
  reconnected(session: AgentSession): void {
    clearTimeout(this.graceTimers.get(session));
    this.graceTimers.delete(session);
  }

  /**
   * Resolves once no release of `agentId`'s jobs is under way, so that a resume arriving just
   * after the grace renews its leases only after they were released (and is refused), never
   * before (when the release would move a job that the agent had just been told to keep).
   */
  async settled(agentId: string): Promise<void> {
    await this.releasing.get(agentId);
  }

  private checkSilence(now: number): void {
    const timeout = this.options.agentTimeoutMs;
    let freed = false;
    for (const session of this.host.sessions()) {
      freed = this.releaseLapsedOutcomes(session, now) || freed;
      // A closed connection is the grace's to judge.
      if (session.inProcess || session.disconnectedAt !== null) continue;
      if (now - session.lastSeenAt < timeout) continue;
      if (!this.host.forget(session)) continue;
      this.options.logger.warn(
        { agentId: session.id, name: session.name, jobs: [...session.held.keys()] },
        `agent silent for ${now - session.lastSeenAt} ms: declared dead; its jobs run again elsewhere once their leases run out`,
      );
      session.inbox?.abort([...session.held.keys()], 'agent declared dead');
      session.inbox = null;
      session.releaseAll();
    }
    if (freed) this.host.freed();
  }

  /**
   * A job whose outcome the store could not record keeps its room until the agent's retry is
   * answered; should the agent give up (its lease ran out first), the job's lease lapses in the
   * store and it runs again elsewhere: its room here comes back then.
   */
  private releaseLapsedOutcomes(session: AgentSession, now: number): boolean {
    const lapsed = session.releaseLapsed(now, this.options.leaseMs);
    if (lapsed.length === 0) return false;
    this.options.logger.warn(
      { agentId: session.id, jobs: lapsed },
      'outcomes never recorded and their leases lapsed: their room on the agent is free again',
    );
    return true;
  }

  private graceOver(session: AgentSession): void {
    // Back in time (register cleared `disconnectedAt`), or already gone.
    if (session.state !== 'disconnected' || session.inbox !== null) return;
    if (!this.host.forget(session)) return;
    // Room held for an assignment still being made ('' token) is not a lease to release.
    const leased = [...session.held].filter(([, held]) => held.leaseToken !== '');
    session.releaseAll();
    const lost = this.releaseJobs(session, leased).catch((err: unknown) => {
      this.options.logger.warn(
        { err, agentId: session.id },
        'could not release the jobs of a lost agent; they run again elsewhere once their leases run out',
      );
    });
    const done = lost.finally(() => {
      if (this.releasing.get(session.id) === done) this.releasing.delete(session.id);
    });
    this.releasing.set(session.id, done);
  }

  /**
   * Releases the lost agent's jobs whose lease is still the one this server last renewed. Every
   * renewal sets a lease to end `leaseMs` after the renewing server's now, so a lease ending
   * later than `leasesRenewedAt + leaseMs` was renewed since by another server, where the agent
   * is back: the store refuses that job (`LEASE_RENEWED`) in the same atomic step as the
   * release, and it stays. This assumes the servers' clocks agree to well within a heartbeat,
   * as lease expiry itself does. A job no longer leased to the agent is refused as well.
   */
  private async releaseJobs(session: AgentSession, leased: [string, HeldJob][]): Promise<void> {
    const { leaseMs, reconnectGraceMs, logger } = this.options;
    const leaseExpiresBy = session.leasesRenewedAt + leaseMs;
    const error: JobError = {
      code: 'AGENT_LOST',
      message: `agent ${session.name} (${session.id}) closed its connection and was not back within ${reconnectGraceMs} ms; the job runs again elsewhere`,
      retryable: true,
    };
    const results =
      leased.length === 0
        ? []
        : await this.store.release(
            leased.map(([jobId, { leaseToken }]) => ({ jobId, leaseToken, error, leaseExpiresBy })),
          );
    const held = new Map(leased);
    this.options.metrics?.released('agent_lost', results, (jobId) => held.get(jobId));
    const released = results.filter((r) => r.ok).map((r) => r.jobId);
    const renewedElsewhere = results.filter((r) => !r.ok && r.code === 'LEASE_RENEWED').map((r) => r.jobId);
    logger.warn(
      { agentId: session.id, name: session.name, released, renewedElsewhere },
      `agent not back ${reconnectGraceMs} ms after its connection closed: declared lost; released ${released.length} job(s) to run again elsewhere`,
    );
  }
}
