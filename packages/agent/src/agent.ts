import type {
  AgentLink,
  Completion,
  GpuDevice,
  GpuHealth,
  HeldJob,
  JobAssignment,
  LeaseRef,
  LingeringReport,
  RegisteredAgent,
  TransitionResult,
} from '@baton/core';
import { BatonError } from '@baton/core';
import { HandlerSlots } from './handler-slots.js';
import { JobAbort } from './job-abort.js';
import { fencePlan } from './lease-fence.js';
import { LingeringHandlers } from './lingering-handlers.js';
import { isAlreadyApplied, retryDecision } from './outcome-retry.js';
import type { OutputSource } from './job-output.js';
import { OutputBuffer } from './job-output.js';
import type { ReregisteredInbox } from './link-resume.js';
import { runTask } from './run-task.js';
import type { AnyTaskDefinition, TaskDefinition, TaskLogger } from './task.js';
import { silentLogger } from './task.js';

export interface AgentOptions {
  /**
   * How this agent reaches the server. A link with `lingering` (both of Baton's) also tells it
   * which handlers linger, so the server does not place work here that would only wait.
   */
  link: AgentLink & Partial<LingeringReport>;
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
  /** How long the job's task takes to stop once aborted (see TaskOptions.stopGraceMs). */
  stopGraceMs: number;
  output: OutputSource;
}

/**
 * Runs tasks handed to it over an {@link AgentLink}: starts each job, heartbeats its lease,
 * reports progress and the outcome. The server decides what runs here; the agent only
 * honours its concurrency by the slots it registered.
 */
export class Agent implements ReregisteredInbox {
  private readonly link: AgentLink & Partial<LingeringReport>;
  private readonly tasks: Map<string, TaskDefinition<unknown, unknown>>;
  private readonly concurrency: number;
  private readonly queues: string[];
  private readonly logger: TaskLogger;
  private readonly progressIntervalMs: number;
  private readonly running = new Map<string, RunningJob>();
  /** Slots and GPUs of handlers still running, lingering ones included. */
  private readonly handlerSlots: HandlerSlots;
  /** Jobs that ended while their handler, ignoring its signal, runs on; reported to the server. */
  private readonly lingeringJobs: LingeringHandlers;
  /** Fires when the earliest job's lease fence comes due. */
  private fenceTimer: NodeJS.Timeout | null = null;
  private fenceDueAt = Infinity;
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
    this.handlerSlots = new HandlerSlots(this.concurrency);
    this.lingeringJobs = new LingeringHandlers(
      this.link,
      options.logger ?? silentLogger,
      () => this.registration !== null && this._state !== 'idle' && this._state !== 'stopped',
    );
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

  /**
   * Jobs that ended (cancelled, timed out, lease lost) while their handler, ignoring its
   * AbortSignal, runs on. Their slots stay taken until the handler returns: the agent starts no
   * more than its slots minus these, and new work waits.
   */
  get lingering(): string[] {
    return this.lingeringJobs.ids();
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
    this.warnCrampedLeases();
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
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.fenceTimer = null;
    this.fenceDueAt = Infinity;
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
    // The server may be another, or restarted: it knows nothing of what lingers here.
    this.lingeringJobs.retry(true);
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
    const task = this.tasks.get(job.task);
    const entry: RunningJob = {
      assignment,
      startedAt: 0,
      abort: new JobAbort(),
      progress: undefined,
      progressDirty: false,
      leaseConfirmedAt: Date.now(),
      stopGraceMs: task?.stopGraceMs ?? task?.abortGraceMs ?? 0,
      output: this.outputs.open(job.id, job.attempts),
    };
    this.running.set(job.id, entry);
    this.armFence(entry);
    let handlerRunning = false;
    let started = false;
    try {
      const outcome = await runTask(task, assignment, entry.abort, {
        logger: this.logger,
        progress: (percent) => this.recordProgress(entry, percent),
        output: (stream, data) => {
          if (!entry.abort.signal.aborted) this.outputs.record(entry.output, stream, data);
        },
        room: async () => {
          if (this.handlerSlots.taken > 0 && this.lingeringJobs.size > 0) {
            this.logger.info(
              { jobId: job.id, lingering: this.lingering },
              'job waits for slots held by lingering handlers',
            );
          }
          const release = await this.handlerSlots.acquire({ slots: job.resources.slots, gpus: job.gpus }, entry.abort);
          handlerRunning = true;
          started = true;
          // The start is reported after a short window, not before running: a job that finishes
          // within it reports its start with its outcome, one store transition instead of two.
          entry.startedAt = Date.now();
          this.unreportedStarts.add(entry);
          this.scheduleStartReport();
          return () => {
            handlerRunning = false;
            release();
            if (this.lingeringJobs.delete(job.id)) {
              this.logger.info({ jobId: job.id }, 'lingering handler returned; its slots are free again');
            }
          };
        },
      });
      if (handlerRunning) {
        const since = Date.now();
        // Told before the outcome frees the job's room on the server.
        this.lingeringJobs.add({
          jobId: job.id,
          slots: Math.min(job.resources.slots, this.concurrency), // as handler-slots counts it
          gpus: job.gpus,
          since,
        });
        this.logger.warn(
          { jobId: job.id, error: outcome.outcome === 'failed' ? outcome.error.code : undefined },
          'job ended but its handler ignores its abort signal and runs on; its slots stay taken until it returns',
        );
      }
      // A job that never started (aborted while waiting for room) ends now.
      const unreported = this.unreportedStarts.delete(entry) || !started;
      const startedAt = unreported ? { startedAt: started ? entry.startedAt : Date.now() } : {};
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
    if (!onlyProgress) this.lingeringJobs.retry();
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
          this.rearmFence();
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
   * A job whose lease the server has not confirmed lately may soon run elsewhere: stop it
   * here, early enough that it is gone before its lease lapses (lease-fence.ts), so a cut-off
   * agent never runs a job at the same time as its replacement.
   */
  private fenceLostLeases(now: number): void {
    for (const entry of this.running.values()) {
      if (entry.abort.signal.aborted || now < this.fenceAt(entry)) continue;
      this.logger.warn(
        { jobId: entry.assignment.job.id, unconfirmedMs: now - entry.leaseConfirmedAt },
        'lease not confirmed in time; stopping the job before the lease lapses',
      );
      entry.abort.abort(
        new BatonError('LEASE_LOST', 'lease lost: the server could not be reached', 409, undefined, true),
      );
    }
  }

  /** When a job is stopped unless its lease is confirmed again first. */
  private fenceAt(entry: RunningJob): number {
    const r = this.registration;
    if (!r) return Infinity;
    return entry.leaseConfirmedAt + fencePlan(r.leaseMs, r.heartbeatMs, entry.stopGraceMs).fenceAfterMs;
  }

  /** Makes sure the fence timer fires by this job's fence. */
  private armFence(entry: RunningJob): void {
    const at = this.fenceAt(entry);
    if (at < this.fenceDueAt) this.setFenceTimer(at);
  }

  /** Sets the fence timer for the earliest fence of the jobs still running (after renewals). */
  private rearmFence(): void {
    let earliest = Infinity;
    for (const entry of this.running.values()) {
      if (!entry.abort.signal.aborted) earliest = Math.min(earliest, this.fenceAt(entry));
    }
    this.setFenceTimer(earliest);
  }

  private setFenceTimer(at: number): void {
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.fenceTimer = null;
    this.fenceDueAt = at;
    if (at === Infinity || this._state === 'stopped') return;
    this.fenceTimer = setTimeout(
      () => {
        this.fenceTimer = null;
        this.fenceDueAt = Infinity;
        this.fenceLostLeases(Date.now());
        this.rearmFence();
      },
      Math.max(0, at - Date.now()),
    );
    this.fenceTimer.unref();
  }

  /**
   * Says at start-up when the server's lease leaves no room to stop a task's jobs before it
   * lapses (its stop grace plus a heartbeat): a cut-off agent may then run such a job beside
   * its replacement for a while.
   */
  private warnCrampedLeases(): void {
    const r = this.registration;
    if (!r) return;
    for (const task of this.tasks.values()) {
      const stopMs = task.stopGraceMs ?? task.abortGraceMs ?? 0;
      const plan = fencePlan(r.leaseMs, r.heartbeatMs, stopMs);
      if (!plan.cramped) continue;
      this.logger.warn(
        { task: task.name, leaseMs: r.leaseMs, heartbeatMs: r.heartbeatMs, stopGraceMs: stopMs, ...plan },
        `the server's lease (${r.leaseMs} ms) is too short to stop "${task.name}" jobs ` +
          `(${stopMs} ms to stop, plus a ${r.heartbeatMs} ms heartbeat) before it lapses: a job whose lease ` +
          `cannot be confirmed is stopped ${plan.fenceAfterMs} ms after its last confirmation and may run up to ` +
          `${plan.overrunMs} ms past its lease, beside its retry; give the server a lease of at least ` +
          `${plan.leaseNeededMs} ms (with this heartbeat)`,
      );
    }
  }

  private waitIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
