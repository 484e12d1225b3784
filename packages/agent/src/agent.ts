import type {
  AgentLink,
  Completion,
  GpuDevice,
  GpuHealth,
  HeldJob,
  JobAssignment,
  LeaseRef,
  RegisteredAgent,
  TransitionResult,
} from '@baton/core';
import { BatonError } from '@baton/core';
import { JobAbort } from './job-abort.js';
import { isAlreadyApplied, retryDecision } from './outcome-retry.js';
import type { OutputSource } from './job-output.js';
import { OutputBuffer } from './job-output.js';
import type { ReregisteredInbox } from './link-resume.js';
import { runTask } from './run-task.js';
import type { AnyTaskDefinition, TaskDefinition, TaskLogger } from './task.js';
import { silentLogger } from './task.js';

export interface AgentOptions {
  /** How this agent reaches the server. */
  link: AgentLink;
  tasks: readonly AnyTaskDefinition[];
  /** Jobs run at once. Default 4. */
  concurrency?: number;
  /** Queues to take work from. Default: the queues of its tasks. */
  queues?: string[];
  name?: string;
  /** Pool the agent belongs to. Default `default`. */
  pool?: string;
  /** Tags jobs can require (`region:us-east`). */
  tags?: string[];
  /** CPU cores offered to jobs that reserve CPU. Default: not declared (unlimited). */
  cpu?: number;
  /** Memory offered to jobs that reserve it, MiB. Default: not declared (unlimited). */
  memoryMb?: number;
  /** GPUs on this machine (detected or declared). Default none. */
  gpus?: GpuDevice[];
  logger?: TaskLogger;
  /** Coalescing window for progress reports. Default 200 ms. */
  progressIntervalMs?: number;
  /**
   * How long a job runs before its start is reported (state `running`). A job finishing sooner
   * reports its start with its outcome. Default 25 ms.
   */
  startReportDelayMs?: number;
  /** How long captured output waits before it is sent, batched. Default 100 ms. */
  outputFlushMs?: number;
  /**
   * Most output bytes of one job waiting to be sent (buffered, or sent and not yet answered).
   * Output beyond it is dropped and the job's log says `[baton: N bytes of output dropped]`,
   * so a slow or lost link cannot make the agent run out of memory. Default 1 MiB.
   */
  maxOutputBytesPerJob?: number;
  /** The same for all jobs together. Default 16 MiB. */
  maxOutputBytes?: number;
}

/** Lifecycle of an agent. */
export type AgentState = 'idle' | 'running' | 'draining' | 'stopped';

interface RunningJob {
  assignment: JobAssignment;
  startedAt: number;
  abort: JobAbort;
  progress: number | undefined;
  progressDirty: boolean;
  /** When the server last confirmed this job's lease (assignment or heartbeat). */
  leaseConfirmedAt: number;
  output: OutputSource;
}

/**
 * Runs tasks handed to it over an {@link AgentLink}: starts each job, heartbeats its lease,
 * reports progress and the outcome. The server decides what runs here; the agent only
 * honours its concurrency by the slots it registered.
 */
export class Agent implements ReregisteredInbox {
  private readonly link: AgentLink;
  private readonly tasks: Map<string, TaskDefinition<unknown, unknown>>;
  private readonly concurrency: number;
  private readonly queues: string[];
  private readonly logger: TaskLogger;
  private readonly progressIntervalMs: number;
  private readonly running = new Map<string, RunningJob>();
  private registration: RegisteredAgent | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private progressTimer: NodeJS.Timeout | null = null;
  private startTimer: NodeJS.Timeout | null = null;
  private readonly unreportedStarts = new Set<RunningJob>();
  private readonly startReportDelayMs: number;
  private readonly outputs: OutputBuffer;
  private idleWaiters: (() => void)[] = [];
  /** A heartbeat round is being tried again: the next tick leaves the renewal to it. */
  private heartbeatRetrying = false;
  /** Waits between tries of a report, each with its waiter; cut short on stop. */
  private readonly retryTimers = new Map<NodeJS.Timeout, () => void>();
  private _state: AgentState = 'idle';

  constructor(private readonly options: AgentOptions) {
    this.link = options.link;
    this.tasks = new Map(options.tasks.map((t) => [t.name, t as TaskDefinition<unknown, unknown>]));
    this.concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new BatonError(
        'INVALID_OPTION',
        `agent concurrency must be a positive integer, got ${options.concurrency}`,
        400,
      );
    }
    this.queues = options.queues ?? [...new Set(options.tasks.map((t) => t.queue))];
    this.logger = options.logger ?? silentLogger;
    this.progressIntervalMs = options.progressIntervalMs ?? 200;
    this.startReportDelayMs = options.startReportDelayMs ?? 25;
    this.outputs = new OutputBuffer({
      link: this.link,
      logger: this.logger,
      flushMs: options.outputFlushMs ?? 100,
      maxBytesPerJob: options.maxOutputBytesPerJob ?? 1024 * 1024,
      maxBytes: options.maxOutputBytes ?? 16 * 1024 * 1024,
    });
  }

  get state(): AgentState {
    return this._state;
  }

  /** The id the server assigned at the latest registration (a new one after a refused resume). */
  get id(): string | null {
    return this.registration?.agentId ?? null;
  }

  /** Number of jobs running now. */
  get load(): number {
    return this.running.size;
  }

  /** Registers with the server; work arrives from then on. Idempotent. */
  async start(): Promise<void> {
    if (this._state !== 'idle') return;
    this._state = 'running';
    try {
      this.registration = await this.link.register(
        {
          ...(this.options.name !== undefined && { name: this.options.name }),
          queues: this.queues,
          tasks: [...this.tasks.values()].map((t) => ({ task: t.name, queue: t.queue })),
          slots: this.concurrency,
          ...(this.options.pool !== undefined && { pool: this.options.pool }),
          ...(this.options.tags !== undefined && { tags: this.options.tags }),
          ...(this.options.cpu !== undefined && { cpu: this.options.cpu }),
          ...(this.options.memoryMb !== undefined && { memoryMb: this.options.memoryMb }),
          ...(this.options.gpus !== undefined && { gpus: this.options.gpus }),
        },
        this,
      );
    } catch (err) {
      this._state = 'idle'; // start() may be called again, e.g. once the server is up
      throw err;
    }
    if (this.registration.abort) this.abort(this.registration.abort, 'lease lost while disconnected');
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.registration.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /**
   * Drains: takes no new work, lets running jobs finish for up to `graceMs`, aborts the rest
   * (they fail with the retryable `AGENT_STOPPING` and run again elsewhere), then leaves.
   * Idempotent.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this._state === 'stopped' || this._state === 'draining') return this.waitIdle();
    const wasRunning = this._state === 'running';
    this._state = 'draining';
    if (wasRunning) {
      try {
        await this.link.drain();
      } catch (err) {
        this.logger.warn({ err }, 'could not tell the server this agent is draining');
      }
    }
    if (this.running.size > 0) {
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([this.waitIdle(), grace]);
      for (const job of this.running.values()) {
        job.abort.abort(
          new BatonError('AGENT_STOPPING', 'agent stopped before the job finished', 503, undefined, true),
        );
      }
      // Aborted jobs report at once (their handlers are raced against the signal), so the
      // server requeues them now instead of waiting for their leases to expire.
      await this.waitIdle();
    }
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    if (this.progressTimer) clearTimeout(this.progressTimer);
    if (this.startTimer) clearTimeout(this.startTimer);
    // A heartbeat round still retrying wakes and ends (heartbeats stopped).
    for (const [timer, wake] of this.retryTimers) {
      clearTimeout(timer);
      wake();
    }
    this.retryTimers.clear();
    this.outputs.stop();
    if (wasRunning) await this.link.unregister();
    this._state = 'stopped';
  }

  deliver(assignments: JobAssignment[]): void {
    for (const assignment of assignments) void this.run(assignment);
  }

  abort(jobIds: string[], reason: string): void {
    for (const id of jobIds) {
      this.running.get(id)?.abort.abort(new BatonError('ABORTED', reason, 409, undefined, true));
    }
  }

  /** The link registered this agent again after a lost connection, perhaps under a new id. */
  reregistered(registered: RegisteredAgent): void {
    this.registration = registered;
  }

  held(): HeldJob[] {
    return [...this.running.values()].map(({ assignment: { job, leaseToken } }) => ({
      jobId: job.id,
      leaseToken,
      resources: job.resources,
      gpus: job.gpus,
    }));
  }

  /** Tells the server about GPUs that failed or recovered; jobs on a failed GPU move elsewhere. */
  async reportGpuHealth(changes: GpuHealth[]): Promise<void> {
    if (changes.length === 0 || this._state === 'idle' || this._state === 'stopped') return;
    await this.link.gpuHealth(changes);
  }

  private async run(assignment: JobAssignment): Promise<void> {
    const { job, leaseToken } = assignment;
    const entry: RunningJob = {
      assignment,
      startedAt: 0,
      abort: new JobAbort(),
      progress: undefined,
      progressDirty: false,
      leaseConfirmedAt: Date.now(),
      output: this.outputs.open(job.id, job.attempts),
    };
    this.running.set(job.id, entry);
    // The start is reported after a short window, not before running: a job that finishes
    // within it reports its start with its outcome, one store transition instead of two.
    entry.startedAt = Date.now();
    this.unreportedStarts.add(entry);
    this.scheduleStartReport();
    try {
      const outcome = await runTask(this.tasks.get(job.task), assignment, entry.abort, {
        logger: this.logger,
        progress: (percent) => this.recordProgress(entry, percent),
        output: (stream, data) => {
          if (!entry.abort.signal.aborted) this.outputs.record(entry.output, stream, data);
        },
      });
      const startedAt = this.unreportedStarts.delete(entry) ? { startedAt: entry.startedAt } : {};
      await this.outputs.flush(); // the job's last output lands before its outcome
      // Until the outcome is recorded the job keeps its slot and its heartbeats.
      await this.report(entry, { jobId: job.id, leaseToken, ...outcome, ...startedAt });
    } catch (err) {
      this.logger.error({ err, jobId: job.id }, 'agent could not report on job');
    } finally {
      this.unreportedStarts.delete(entry);
      this.outputs.close(entry.output);
      this.running.delete(job.id);
      if (this.running.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private scheduleStartReport(): void {
    if (this.startTimer) return;
    this.startTimer = setTimeout(() => {
      this.startTimer = null;
      void this.reportStarts();
    }, this.startReportDelayMs);
    this.startTimer.unref();
  }

  /** Reports the starts of jobs still running; a refused start (cancelled, reassigned) aborts the job. */
  private async reportStarts(): Promise<void> {
    const entries = [...this.unreportedStarts];
    this.unreportedStarts.clear();
    if (entries.length === 0) return;
    try {
      const results = await this.link.started(
        entries.map((e) => ({ jobId: e.assignment.job.id, leaseToken: e.assignment.leaseToken })),
      );
      for (const result of results) if (!result.ok) this.abort([result.jobId], result.message);
    } catch (err) {
      this.logger.warn({ err }, 'could not report job starts; leases are kept by heartbeats');
    }
  }

  /**
   * Sends a job's outcome, again after a retryable failure (the server's store down, no
   * answer) with backoff for as long as the job's lease holds. The store's answer for the job,
   * ok or refused, is final. A refusal that finds the job already ended as this outcome says,
   * within this agent's lease, is an earlier try's own commit (see isAlreadyApplied).
   */
  private async report(entry: RunningJob, completion: Completion): Promise<void> {
    let failures = 0;
    for (;;) {
      let result: TransitionResult | undefined;
      try {
        [result] = await this.link.complete([completion]);
      } catch (err) {
        failures++;
        const decision = retryDecision(err, failures, Date.now(), this.leaseEndsAt(entry));
        if (!decision.retry) {
          if (decision.reason === 'lease-lapsed') {
            this.logger.error(
              { err, jobId: completion.jobId, tries: failures },
              'could not report the outcome before the lease ran out; the job will run again',
            );
            return;
          }
          throw err;
        }
        this.logger.warn(
          { err, jobId: completion.jobId, retryInMs: decision.delayMs },
          'outcome not recorded; retrying',
        );
        await this.sleep(decision.delayMs);
        continue;
      }
      const leaseHeld = Date.now() < this.leaseEndsAt(entry);
      if (result && !result.ok && result.code !== 'CANCELLED' && !isAlreadyApplied(completion, result, leaseHeld)) {
        this.logger.warn({ jobId: completion.jobId, code: result.code }, result.message);
      }
      return;
    }
  }

  /** When this agent last knew the job's lease to end: its last confirmation plus a lease period. */
  private leaseEndsAt(entry: RunningJob): number {
    return entry.leaseConfirmedAt + (this.registration?.leaseMs ?? 0);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        resolve();
      }, ms);
      this.retryTimers.set(timer, resolve);
    });
  }

  private recordProgress(entry: RunningJob, percent: number): void {
    if (!Number.isFinite(percent)) return; // a task's arithmetic slip must not corrupt the job
    entry.progress = Math.max(0, Math.min(100, percent));
    entry.progressDirty = true;
    if (this.progressTimer) return;
    this.progressTimer = setTimeout(() => {
      this.progressTimer = null;
      void this.heartbeat(true);
    }, this.progressIntervalMs);
    this.progressTimer.unref();
  }

  /**
   * Renews every held lease (or, for `onlyProgress`, just reports changed progress). A round
   * that fails with a retryable error is tried again with backoff, with the jobs still held,
   * while any of their leases holds; a round still retrying makes the next tick's redundant.
   */
  private async heartbeat(onlyProgress = false): Promise<void> {
    if (!onlyProgress) this.fenceLostLeases(Date.now());
    if (!onlyProgress && this.heartbeatRetrying) return;
    const round = [...this.running.values()].filter((r) => !onlyProgress || r.progressDirty);
    if (round.length === 0) return;
    let failures = 0;
    if (!onlyProgress) this.heartbeatRetrying = true;
    try {
      for (;;) {
        // Jobs that ended meanwhile leave the round (their outcome speaks for them).
        const entries = round.filter((r) => this.running.get(r.assignment.job.id) === r);
        if (entries.length === 0 || (failures > 0 && this.heartbeatTimer === null)) return;
        const sentAt = Date.now();
        try {
          const results = await this.link.heartbeat(entries.map((r) => this.heartbeatItem(r)));
          for (const result of results) {
            if (!result.ok) this.abort([result.jobId], result.message);
            else {
              const entry = this.running.get(result.jobId);
              if (entry) entry.leaseConfirmedAt = sentAt;
            }
          }
          return;
        } catch (err) {
          failures++;
          const leaseEndsAt = Math.max(...entries.map((r) => this.leaseEndsAt(r)));
          const decision = onlyProgress
            ? ({ retry: false, reason: 'final' } as const) // the next regular round carries progress
            : retryDecision(err, failures, Date.now(), leaseEndsAt);
          if (!decision.retry) {
            for (const r of entries) if (r.progress !== undefined) r.progressDirty = true;
            this.logger.warn({ err }, 'heartbeat failed; will retry');
            return;
          }
          this.logger.warn({ err, retryInMs: decision.delayMs }, 'heartbeat failed; retrying');
          await this.sleep(decision.delayMs);
        }
      }
    } finally {
      if (!onlyProgress) this.heartbeatRetrying = false;
    }
  }

  private heartbeatItem(r: RunningJob): LeaseRef & { progress?: number } {
    r.progressDirty = false;
    const ref = { jobId: r.assignment.job.id, leaseToken: r.assignment.leaseToken };
    return r.progress === undefined ? ref : { ...ref, progress: r.progress };
  }

  /**
   * A job whose lease the server has not confirmed for a whole lease period may already run
   * elsewhere: stop it here, so a cut-off agent never runs a job twice at once.
   */
  private fenceLostLeases(now: number): void {
    const leaseMs = this.registration?.leaseMs;
    if (leaseMs === undefined) return;
    for (const entry of this.running.values()) {
      if (now - entry.leaseConfirmedAt >= leaseMs && !entry.abort.signal.aborted) {
        this.logger.warn(
          { jobId: entry.assignment.job.id },
          'lease not confirmed for a lease period; stopping the job',
        );
        entry.abort.abort(
          new BatonError('LEASE_LOST', 'lease lost: the server could not be reached', 409, undefined, true),
        );
      }
    }
  }

  private waitIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
