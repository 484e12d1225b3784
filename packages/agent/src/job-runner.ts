import type { JobAssignment } from '@baton/core';
import type { HandlerSlots } from './handler-slots.js';
import { JobAbort } from './job-abort.js';
import type { OutputBuffer } from './job-output.js';
import type { LeaseFenceWatch } from './lease-fence-watch.js';
import type { LeaseHeartbeats } from './lease-heartbeats.js';
import type { LingeringHandlers } from './lingering-handlers.js';
import type { OutcomeReports } from './outcome-report.js';
import { runTask } from './run-task.js';
import type { RunningJob, RunningJobs } from './running-jobs.js';
import type { StartReports } from './start-reports.js';
import type { TaskDefinition, TaskLogger } from './task.js';
import type { WorkflowGrowthLink } from './workflow-handle.js';

export interface JobRunnerOptions {
  tasks: ReadonlyMap<string, TaskDefinition<unknown, unknown>>;
  /** The agent's slots: a job asking more takes them all. */
  concurrency: number;
  logger: TaskLogger;
  running: RunningJobs;
  handlerSlots: HandlerSlots;
  lingering: LingeringHandlers;
  outputs: OutputBuffer;
  starts: StartReports;
  heartbeats: LeaseHeartbeats;
  fence: LeaseFenceWatch;
  outcomes: OutcomeReports;
  /** How steps grow their workflows (the agent's link). */
  growth: WorkflowGrowthLink;
}

/** Whether a job's handler got its room, and whether it still holds it. */
interface HandlerState {
  started: boolean;
  running: boolean;
}

/**
 * Runs each job handed to the agent from its assignment to its recorded outcome: the job is
 * held (heartbeats, fence) from the start; its handler waits for room (slots and GPUs that
 * lingering handlers may still hold), runs (run-task.ts), and a handler that runs on past its
 * job's end is recorded as lingering. Until the outcome is recorded the job keeps its lease.
 */
export class JobRunner {
  constructor(private readonly options: JobRunnerOptions) {}

  async run(assignment: JobAssignment): Promise<void> {
    const { logger, running, outputs, starts } = this.options;
    const { job, leaseToken } = assignment;
    const task = this.options.tasks.get(job.task);
    const entry: RunningJob = {
      assignment,
      startedAt: 0,
      abort: new JobAbort(),
      progress: undefined,
      progressDirty: false,
      leaseConfirmedAt: Date.now(),
      stopGraceMs: task?.stopGraceMs ?? task?.abortGraceMs ?? 0,
      output: outputs.open(job.id, job.attempts),
    };
    running.add(entry);
    this.options.fence.arm(entry);
    const handler: HandlerState = { started: false, running: false };
    try {
      const outcome = await runTask(task, assignment, entry.abort, {
        logger,
        progress: (percent) => this.options.heartbeats.recordProgress(entry, percent),
        output: (stream, data) => {
          if (!entry.abort.signal.aborted) outputs.record(entry.output, stream, data);
        },
        room: () => this.admit(entry, handler),
        growth: this.options.growth,
      });
      if (handler.running) {
        // Told before the outcome frees the job's room on the server.
        this.options.lingering.add({
          jobId: job.id,
          slots: Math.min(job.resources.slots, this.options.concurrency), // as handler-slots counts it
          gpus: job.gpus,
          since: Date.now(),
        });
        logger.warn(
          { jobId: job.id, error: outcome.outcome === 'failed' ? outcome.error.code : undefined },
          'job ended but its handler ignores its abort signal and runs on; its slots stay taken until it returns',
        );
      }
      // A job that never started (aborted while waiting for room) ends now.
      const unreported = starts.take(entry) || !handler.started;
      const startedAt = unreported ? { startedAt: handler.started ? entry.startedAt : Date.now() } : {};
      await outputs.flush(); // the job's last output lands before its outcome
      // Until the outcome is recorded the job keeps its slot and its heartbeats.
      await this.options.outcomes.report(entry, { jobId: job.id, leaseToken, ...outcome, ...startedAt });
    } catch (err) {
      logger.error({ err, jobId: job.id }, 'agent could not report on job');
    } finally {
      starts.take(entry);
      outputs.close(entry.output);
      running.delete(job.id);
    }
  }

  /**
   * Waits for the handler's slots and GPUs, then counts its start. What it resolves to gives
   * them back once the handler returns, which for a lingering one is after its job ended.
   */
  private async admit(entry: RunningJob, handler: HandlerState): Promise<() => void> {
    const { logger, handlerSlots, lingering, starts } = this.options;
    const { job } = entry.assignment;
    if (handlerSlots.taken > 0 && lingering.size > 0) {
      logger.info({ jobId: job.id, lingering: lingering.ids() }, 'job waits for slots held by lingering handlers');
    }
    const release = await handlerSlots.acquire({ slots: job.resources.slots, gpus: job.gpus }, entry.abort);
    handler.running = true;
    handler.started = true;
    entry.startedAt = Date.now();
    starts.add(entry);
    return () => {
      handler.running = false;
      release();
      if (lingering.delete(job.id)) {
        logger.info({ jobId: job.id }, 'lingering handler returned; its slots are free again');
      }
    };
  }
}
