import type { LingeringJob, LingeringReport } from '@baton/core';
import { MAX_LINGERING_JOBS } from '@baton/core';
import type { TaskLogger } from './task.js';

/**
 * The agent's jobs that ended (cancelled, timed out, lease lost) while their handler, ignoring
 * its AbortSignal, runs on, and what the server was told of them. The server counts their room
 * as taken, so it does not place work here that would only wait for them (handler-slots.ts).
 * Every report is the whole set; changes made while one is under way go in the next, and a
 * report that failed is sent again when {@link retry} is called (each heartbeat).
 */
export class LingeringHandlers {
  private readonly jobs = new Map<string, LingeringJob>();
  private unreported = false;
  private reporting = false;

  constructor(
    private readonly link: Partial<LingeringReport>,
    private readonly logger: TaskLogger,
    /** Whether the agent is registered and may talk to the server now. */
    private readonly registered: () => boolean,
  ) {}

  get size(): number {
    return this.jobs.size;
  }

  ids(): string[] {
    return [...this.jobs.keys()];
  }

  add(job: LingeringJob): void {
    this.jobs.set(job.jobId, job);
    this.report();
  }

  /** The job's handler returned; says whether it was lingering. */
  delete(jobId: string): boolean {
    if (!this.jobs.delete(jobId)) return false;
    this.report();
    return true;
  }

  /** Sends the set again if the server may not have it (a failed report, a new registration). */
  retry(force = false): void {
    if (force && this.jobs.size > 0) this.unreported = true;
    if (this.unreported) this.report();
  }

  private report(): void {
    this.unreported = true;
    const send = this.link.lingering?.bind(this.link);
    if (this.reporting || !send || !this.registered()) return;
    this.reporting = true;
    void (async () => {
      try {
        while (this.unreported && this.registered()) {
          this.unreported = false;
          // Oldest first: past the limit, those reported are the ones holding room longest.
          await send([...this.jobs.values()].slice(0, MAX_LINGERING_JOBS));
        }
      } catch (err) {
        this.unreported = true;
        this.logger.warn({ err }, 'could not tell the server which handlers linger; retrying at the next heartbeat');
      } finally {
        this.reporting = false;
      }
    })();
  }
}
