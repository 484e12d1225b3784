import type { JobAssignment, JobState, TransitionResult } from '@baton/core';
import { FINAL_STATES } from '@baton/core';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Counter, Histogram } from 'prom-client';
import { UNKNOWN_QUEUE } from '../agents/capacity-report.js';
import { JOB_SECONDS_BUCKETS, PASS_SECONDS_BUCKETS } from './buckets.js';
import { createdAtOfJobId } from './job-ids.js';
import type { FailoverReason, HeldForMetrics, JobMetrics } from './job-metrics.js';

/**
 * This server's own counters and histograms: each counts what this server did (an outcome its
 * agent reported and it recorded, a cancel through its API, a lease its sweep expired), so
 * summing them over the fleet's servers counts every event once.
 */
export class JobCounters implements JobMetrics {
  private readonly finishedTotal: Counter<'queue' | 'state'>;
  private readonly failovers: Counter<'reason'>;
  private readonly preemptions: Counter;
  private readonly duration: Histogram<'queue'>;
  private readonly wait: Histogram<'queue'>;
  private readonly pass: Histogram;

  constructor(
    registry: Registry,
    /** Reads the queue of jobs failed by lease expiry (which reports ids only). */
    private readonly store: Pick<Store, 'getJob'>,
    private readonly logger: Logger,
  ) {
    const registers = [registry];
    this.finishedTotal = new Counter({
      name: 'baton_jobs_finished_total',
      help: 'Jobs that reached a final state through this server (outcomes of its agents, cancels through its API, leases it expired)',
      labelNames: ['queue', 'state'],
      registers,
    });
    this.failovers = new Counter({
      name: 'baton_failovers_total',
      help: 'Jobs this server sent back to the queue without an outcome: agent lost, lease expired, GPU unhealthy',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['agent_lost', 'lease_expired', 'gpu_unhealthy'] as const) this.failovers.inc({ reason }, 0);
    this.preemptions = new Counter({
      name: 'baton_preemptions_total',
      help: "Running jobs this server's scheduler chose to stop for higher-class jobs",
      registers,
    });
    this.duration = new Histogram({
      name: 'baton_job_duration_seconds',
      help: "Run time of jobs whose outcome this server's agents reported: hand-over to the agent until the outcome was recorded",
      labelNames: ['queue'],
      buckets: JOB_SECONDS_BUCKETS,
      registers,
    });
    this.wait = new Histogram({
      name: 'baton_job_wait_seconds',
      help: "Time jobs waited from creation to their first lease, observed as this server's agents are handed them",
      labelNames: ['queue'],
      buckets: JOB_SECONDS_BUCKETS,
      registers,
    });
    this.pass = new Histogram({
      name: 'baton_schedule_pass_seconds',
      help: "Duration of this server's scheduling passes",
      buckets: PASS_SECONDS_BUCKETS,
      registers,
    });
  }

  finished(queue: string | null | undefined, state: JobState, startedAt?: number): void {
    if (!FINAL_STATES.has(state)) return;
    const q = queue ?? UNKNOWN_QUEUE;
    this.finishedTotal.inc({ queue: q, state });
    // A re-adopted job's queue and start are unknown: it adds no duration.
    if (startedAt !== undefined && queue)
      this.duration.observe({ queue: q }, Math.max(0, Date.now() - startedAt) / 1000);
  }

  released(
    reason: FailoverReason,
    results: readonly TransitionResult[],
    held: (jobId: string) => HeldForMetrics | undefined,
  ): void {
    let requeued = 0;
    for (const r of results) {
      if (!r.ok) continue;
      if (FINAL_STATES.has(r.state)) this.finished(held(r.jobId)?.queue, r.state);
      else requeued++;
    }
    if (requeued > 0) this.failovers.inc({ reason }, requeued);
  }

  expired(result: { requeued: readonly string[]; failed: readonly string[] }): void {
    if (result.requeued.length > 0) this.failovers.inc({ reason: 'lease_expired' }, result.requeued.length);
    if (result.failed.length === 0) return;
    // Rare (attempts exhausted by expiry): their queues are read off the hot path.
    const failed = [...result.failed];
    void Promise.all(failed.map((id) => this.store.getJob(id)))
      .then((jobs) => {
        for (const job of jobs) this.finished(job?.queue, 'failed');
      })
      .catch((err: unknown) => {
        this.logger.warn({ err }, 'could not read the queues of jobs failed by lease expiry; counted as _unknown');
        for (let i = 0; i < failed.length; i++) this.finished(null, 'failed');
      });
  }

  assigned(assignments: readonly JobAssignment[]): void {
    const now = Date.now();
    for (const { job } of assignments) {
      // A retry's wait would include its earlier attempts: only first attempts are observed.
      if (job.attempts !== 1) continue;
      const createdAt = createdAtOfJobId(job.id);
      if (createdAt !== null) this.wait.observe({ queue: job.queue }, Math.max(0, now - createdAt) / 1000);
    }
  }

  preempted(count: number): void {
    if (count > 0) this.preemptions.inc(count);
  }

  passTimer(): () => void {
    const end = this.pass.startTimer();
    return () => void end();
  }
}
