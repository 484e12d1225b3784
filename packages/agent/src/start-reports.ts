import type { AgentLink } from '@baton/core';
import type { RunningJob, RunningJobs } from './running-jobs.js';
import type { TaskLogger } from './task.js';

/**
 * Reports that jobs started (state `running`), batched, a short window after their handlers
 * started rather than before: a job that finishes within the window reports its start with its
 * outcome instead, one store transition instead of two. A start the server refuses (the job was
 * cancelled or reassigned meanwhile) aborts the job.
 */
export class StartReports {
  private readonly unreported = new Set<RunningJob>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly link: AgentLink,
    private readonly logger: TaskLogger,
    private readonly running: RunningJobs,
    private readonly delayMs: number,
  ) {}

  /** The job's handler started: its start goes in the next report. */
  add(job: RunningJob): void {
    this.unreported.add(job);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.send();
    }, this.delayMs);
    this.timer.unref();
  }

  /** Takes the job out of the next report; says whether its start was still unreported. */
  take(job: RunningJob): boolean {
    return this.unreported.delete(job);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Reports the starts of jobs still running; heartbeats keep their leases if this fails. */
  private async send(): Promise<void> {
    const jobs = [...this.unreported];
    this.unreported.clear();
    if (jobs.length === 0) return;
    try {
      const results = await this.link.started(
        jobs.map((j) => ({ jobId: j.assignment.job.id, leaseToken: j.assignment.leaseToken })),
      );
      for (const result of results) if (!result.ok) this.running.abort([result.jobId], result.message);
    } catch (err) {
      this.logger.warn({ err }, 'could not report job starts; leases are kept by heartbeats');
    }
  }
}
