import type { HeldJob, JobAssignment, RegisteredAgent } from '@baton/core';
import { BatonError } from '@baton/core';
import type { JobAbort } from './job-abort.js';
import type { OutputSource } from './job-output.js';
import { PreemptedError } from './preemption.js';

/** A job handed to this agent whose outcome is not yet recorded. */
export interface RunningJob {
  assignment: JobAssignment;
  startedAt: number;
  abort: JobAbort;
  progress: number | undefined;
  progressDirty: boolean;
  /** When the server last confirmed this job's lease (assignment or heartbeat). */
  leaseConfirmedAt: number;
  /** How long the job's task takes to stop once aborted (see TaskOptions.stopGraceMs). */
  stopGraceMs: number;
  output: OutputSource;
}

/**
 * The agent's jobs from their assignment until their outcome is recorded (or given up on):
 * what its heartbeats renew, its lease fence watches, a resume presents as held, and a drain
 * waits for. A handler that lingers after its job ended is no longer here.
 */
export class RunningJobs {
  private readonly jobs = new Map<string, RunningJob>();
  private idleWaiters: (() => void)[] = [];

  get size(): number {
    return this.jobs.size;
  }

  get(jobId: string): RunningJob | undefined {
    return this.jobs.get(jobId);
  }

  values(): Iterable<RunningJob> {
    return this.jobs.values();
  }

  /** Whether `job` is still the one running under its id: it has not ended meanwhile. */
  holds(job: RunningJob): boolean {
    return this.jobs.get(job.assignment.job.id) === job;
  }

  add(job: RunningJob): void {
    this.jobs.set(job.assignment.job.id, job);
  }

  /** The job is done with; a drain waiting for the last one goes on. */
  delete(jobId: string): void {
    this.jobs.delete(jobId);
    if (this.jobs.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves once no job runs (at once when none does). */
  whenIdle(): Promise<void> {
    if (this.jobs.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Aborts the listed jobs that run here (cancelled, reassigned): they fail as `ABORTED`. With
   * `preemptGraceMs`, they were preempted for a higher-class job: they fail as `PREEMPTED`
   * (the server puts them back in the queue), and their handlers get that grace to stop.
   */
  abort(jobIds: string[], reason: string, preemptGraceMs?: number): void {
    for (const id of jobIds) {
      this.jobs
        .get(id)
        ?.abort.abort(
          preemptGraceMs === undefined
            ? new BatonError('ABORTED', reason, 409, undefined, true)
            : new PreemptedError(reason, preemptGraceMs),
        );
    }
  }

  /** What a resume tells the server this agent still holds. */
  held(): HeldJob[] {
    return [...this.jobs.values()].map(({ assignment: { job, leaseToken } }) => ({
      jobId: job.id,
      leaseToken,
      resources: job.resources,
      gpus: job.gpus,
    }));
  }
}

/** When this agent last knew the job's lease to end: its last confirmation plus a lease period. */
export function leaseEndsAt(job: RunningJob, registration: RegisteredAgent | null): number {
  return job.leaseConfirmedAt + (registration?.leaseMs ?? 0);
}
