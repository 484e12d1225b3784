import type { Completion, JobAssignment, LeaseRef, LogChunk, TransitionResult } from '@baton/core';
import { checkResult } from '@baton/core';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';
import type { AgentSession } from './agent-session.js';
import { Batcher } from './batcher.js';
import type { JobMetrics } from '../metrics/job-metrics.js';
import type { RuntimeRecorder } from '../estimates/runtime-recorder.js';

const PREEMPTED_MESSAGE = 'stopped for a higher-priority job; back in the queue, the attempt not spent';

/**
 * Agents' reports (starts, heartbeats, outcomes, output) as batched store calls: reports of
 * every agent made in one turn of the event loop become one store transaction per kind.
 */
export class AgentReports {
  private readonly starts: Batcher<LeaseRef, TransitionResult>;
  private readonly heartbeats: Batcher<LeaseRef & { progress?: number }, TransitionResult>;
  private readonly completions: Batcher<Completion, TransitionResult>;
  private readonly preemptions: Batcher<LeaseRef & { message: string }, TransitionResult>;
  private readonly logWrites: Batcher<LogChunk, null>;

  constructor(
    store: Store,
    private readonly options: {
      leaseMs: number;
      logger: Logger;
      metrics?: JobMetrics | undefined;
      /** Takes succeeded attempts' runtimes for learned estimates (absent: none are learned). */
      runtimes?: RuntimeRecorder | undefined;
    },
    /** Room on an agent came back. */
    private readonly freed: () => void,
  ) {
    this.starts = new Batcher((items) => store.start(items, options.leaseMs));
    this.heartbeats = new Batcher((items) => store.heartbeat(items, options.leaseMs));
    this.completions = new Batcher((items) => store.complete(items));
    this.preemptions = new Batcher((items) => store.preempt(items));
    this.logWrites = new Batcher(async (chunks) => {
      await store.appendLogs(chunks);
      return chunks.map(() => null);
    });
  }

  async started(session: AgentSession, items: LeaseRef[]): Promise<TransitionResult[]> {
    const results = await this.starts.add(items);
    this.renewed(session, results);
    return results;
  }

  async heartbeat(session: AgentSession, items: (LeaseRef & { progress?: number })[]): Promise<TransitionResult[]> {
    const results = await this.heartbeats.add(items);
    this.renewed(session, results);
    return results;
  }

  /**
   * Records outcomes. A job's room is freed once the store answered for it, recorded or
   * refused (its lease is gone either way); when the store call fails the job keeps its room,
   * as it keeps its slot on the agent, which sends the outcome again (outcome-retry.ts) — freeing
   * it here would let placement give the agent more than it runs. Should the agent give up,
   * the job's lease lapses and {@link AgentSession.releaseLapsed} frees it.
   */
  async complete(session: AgentSession, items: Completion[]): Promise<TransitionResult[]> {
    // A job this server told to stop for a higher class, that then failed (it was stopped), goes
    // back to the queue without spending an attempt. The server's own mark decides, never the
    // agent's error code: an agent cannot dodge the attempt count by claiming PREEMPTED.
    const preempted = (i: Completion) => i.outcome === 'failed' && session.held.get(i.jobId)?.preempting === true;
    if (!items.some(preempted)) {
      return this.record(
        session,
        items.map(refuseOversizedResult),
        items.map((i) => i.jobId),
      );
    }
    const stopped = items.filter(preempted);
    const others = items.filter((i) => !preempted(i));
    const [a, b] = await Promise.all([
      others.length > 0
        ? this.record(
            session,
            others.map(refuseOversizedResult),
            others.map((i) => i.jobId),
          )
        : Promise.resolve([]),
      this.record(
        session,
        stopped.map((i) => ({ jobId: i.jobId, leaseToken: i.leaseToken, message: PREEMPTED_MESSAGE })),
        stopped.map((i) => i.jobId),
        this.preemptions,
      ),
    ]);
    const byJob = new Map<string, TransitionResult>();
    for (const [i, r] of [...others.map((o, k) => [o, a[k]] as const), ...stopped.map((o, k) => [o, b[k]] as const)]) {
      if (r) byJob.set(i.jobId, r);
    }
    return items.map((i) => byJob.get(i.jobId)!);
  }

  async logs(session: AgentSession, chunks: LogChunk[]): Promise<void> {
    // Output is kept only for jobs this agent holds: a stray or stale writer changes nothing.
    await this.logWrites.add(chunks.filter((c) => session.held.has(c.jobId)));
  }

  /** Assignments the transport could not encode for the agent: their jobs fail, their room frees. */
  async undeliverable(
    session: AgentSession | null,
    failed: { assignment: JobAssignment; reason: string }[],
  ): Promise<void> {
    if (failed.length === 0) return;
    this.options.logger.warn(
      { agentId: session?.id, jobs: failed.map((f) => f.assignment.job.id) },
      'jobs cannot be encoded for their agent: failing them',
    );
    // Not retryable: the payload is the same on every attempt, and so is the failure.
    await this.record(
      session,
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
      failed.map((f) => f.assignment.job.id),
    );
  }

  /**
   * Sends outcomes to the store; frees the jobs' room once it answered, and marks them
   * unrecorded when it could not (see {@link complete}).
   */
  private async record<T>(
    session: AgentSession | null,
    outcomes: T[],
    jobIds: string[],
    batcher: Batcher<T, TransitionResult> = this.completions as unknown as Batcher<T, TransitionResult>,
  ): Promise<TransitionResult[]> {
    let results: TransitionResult[];
    try {
      results = await batcher.add(outcomes);
    } catch (err) {
      session?.outcomeUnrecorded(jobIds);
      throw err;
    }
    if (this.options.metrics) this.counted(this.options.metrics, session, results);
    if (session) this.options.runtimes?.succeeded(results, (jobId) => session.held.get(jobId));
    for (const jobId of jobIds) session?.release(jobId);
    this.freed();
    return results;
  }

  /** Outcomes the store recorded, counted with their queue and run time while the jobs are still held. */
  private counted(metrics: JobMetrics, session: AgentSession | null, results: readonly TransitionResult[]): void {
    for (const r of results) {
      if (!r.ok) continue;
      const held = session?.held.get(r.jobId);
      metrics.finished(held?.queue, r.state, held?.startedAt);
    }
  }

  /** The store answered start or heartbeat reports: leases it renewed count from now. */
  private renewed(session: AgentSession, results: readonly TransitionResult[]): void {
    const now = Date.now();
    session.leasesRenewedAt = now;
    if (session.renewed(results, now)) this.freed();
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
