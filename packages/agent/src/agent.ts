import type {
  AbortOptions,
  AgentLink,
  GpuHealth,
  GpuDevice,
  HeldJob,
  JobAssignment,
  LingeringReport,
  RegisteredAgent,
} from '@baton/core';
import { BatonError, DEFAULT_PREEMPT_GRACE_MS } from '@baton/core';
import { HandlerSlots } from './handler-slots.js';
import { JobRunner } from './job-runner.js';
import { OutputBuffer } from './job-output.js';
import { warnCrampedLeases } from './lease-fence.js';
import { LeaseFenceWatch } from './lease-fence-watch.js';
import { LeaseHeartbeats } from './lease-heartbeats.js';
import { LingeringHandlers } from './lingering-handlers.js';
import type { ReregisteredInbox } from './link-resume.js';
import { OutcomeReports } from './outcome-report.js';
import type { PoolOptions } from './preemption.js';
import { poolOptionsProblem, poolRegistration } from './preemption.js';
import { RetryWaits } from './retry-waits.js';
import { RunningJobs } from './running-jobs.js';
import { StartReports } from './start-reports.js';
import type { AnyTaskDefinition, TaskDefinition, TaskLogger } from './task.js';
import { silentLogger } from './task.js';

export interface AgentOptions extends PoolOptions {
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
  /**
   * The server's HTTP URL, which command steps get as `BATON_API_URL` to grow their workflow
   * (`POST /api/workflows/:id/steps`). Default: the server a `WsLink` is connected to; none for
   * an in-process link (`baton dev` gives its own URL).
   */
  apiUrl?: string;
}

/** Lifecycle of an agent. */
export type AgentState = 'idle' | 'running' | 'draining' | 'stopped';

/**
 * Runs tasks handed to it over an {@link AgentLink}: starts each job, heartbeats its lease,
 * reports progress and the outcome. The server decides what runs here; the agent only
 * honours its concurrency by the slots it registered. This class holds the agent's lifecycle
 * (register, drain, leave) and wires its parts: job-runner.ts runs each job, lease-heartbeats.ts
 * and lease-fence-watch.ts keep or give up its lease, start-reports.ts and outcome-report.ts
 * tell the server, handler-slots.ts and lingering-handlers.ts account for handlers.
 */
export class Agent implements ReregisteredInbox {
  private readonly link: AgentLink & Partial<LingeringReport>;
  private readonly tasks: Map<string, TaskDefinition<unknown, unknown>>;
  private readonly concurrency: number;
  private readonly queues: string[];
  private readonly logger: TaskLogger;
  private readonly running = new RunningJobs();
  /** Jobs that ended while their handler, ignoring its signal, runs on; reported to the server. */
  private readonly lingeringJobs: LingeringHandlers;
  private readonly outputs: OutputBuffer;
  /** Waits between tries of a report; cut short on stop. */
  private readonly retryWaits = new RetryWaits();
  private readonly fence: LeaseFenceWatch;
  private readonly heartbeats: LeaseHeartbeats;
  private readonly starts: StartReports;
  private readonly jobs: JobRunner;
  private registration: RegisteredAgent | null = null;
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
    const poolProblem = poolOptionsProblem(options);
    if (poolProblem) throw new BatonError('INVALID_OPTION', `agent ${poolProblem}`, 400);
    this.queues = options.queues ?? [...new Set(options.tasks.map((t) => t.queue))];
    this.logger = options.logger ?? silentLogger;
    const { link, logger, running } = this;
    const registration = (): RegisteredAgent | null => this.registration;
    this.lingeringJobs = new LingeringHandlers(
      link,
      logger,
      () => this.registration !== null && this._state !== 'idle' && this._state !== 'stopped',
    );
    this.outputs = new OutputBuffer({
      link,
      logger,
      flushMs: options.outputFlushMs ?? 100,
      maxBytesPerJob: options.maxOutputBytesPerJob ?? 1024 * 1024,
      maxBytes: options.maxOutputBytes ?? 16 * 1024 * 1024,
    });
    this.fence = new LeaseFenceWatch({ running, logger, registration, stopped: () => this._state === 'stopped' });
    this.heartbeats = new LeaseHeartbeats({
      link,
      logger,
      running,
      registration,
      waits: this.retryWaits,
      fence: this.fence,
      lingering: this.lingeringJobs,
      progressIntervalMs: options.progressIntervalMs ?? 200,
    });
    this.starts = new StartReports(link, logger, running, options.startReportDelayMs ?? 25);
    this.jobs = new JobRunner({
      tasks: this.tasks,
      concurrency: this.concurrency,
      logger,
      running,
      handlerSlots: new HandlerSlots(this.concurrency),
      lingering: this.lingeringJobs,
      outputs: this.outputs,
      starts: this.starts,
      heartbeats: this.heartbeats,
      fence: this.fence,
      outcomes: new OutcomeReports({ link, logger, registration, waits: this.retryWaits }),
      growth: {
        addSteps: (request) => link.addSteps(request),
        // Read per job: a WsLink of a fleet moves to another server when it loses its own.
        apiUrl: () => options.apiUrl ?? serverOf(link),
      },
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
          ...poolRegistration(this.options),
        },
        this,
      );
    } catch (err) {
      this._state = 'idle'; // start() may be called again, e.g. once the server is up
      throw err;
    }
    warnCrampedLeases(this.tasks.values(), this.registration, this.logger);
    if (this.registration.abort) this.abort(this.registration.abort, 'lease lost while disconnected');
    this.heartbeats.start(this.registration.heartbeatMs);
  }

  /**
   * Drains: takes no new work, lets running jobs finish for up to `graceMs`, aborts the rest
   * (they fail with the retryable `AGENT_STOPPING` and run again elsewhere), then leaves.
   * Idempotent.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this._state === 'stopped' || this._state === 'draining') return this.running.whenIdle();
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
      await Promise.race([this.running.whenIdle(), grace]);
      for (const job of this.running.values()) {
        job.abort.abort(
          new BatonError('AGENT_STOPPING', 'agent stopped before the job finished', 503, undefined, true),
        );
      }
      // Aborted jobs report at once (their handlers are raced against the signal), so the
      // server requeues them now instead of waiting for their leases to expire.
      await this.running.whenIdle();
    }
    this.heartbeats.stop();
    this.fence.stop();
    this.starts.stop();
    // A heartbeat round still retrying wakes and ends (heartbeats stopped).
    this.retryWaits.wakeAll();
    this.outputs.stop();
    if (wasRunning) await this.link.unregister();
    this._state = 'stopped';
  }

  deliver(assignments: JobAssignment[]): void {
    for (const assignment of assignments) void this.jobs.run(assignment);
  }

  /**
   * Stops these jobs. A preemption (the server stopping them for a higher-class job) gives each
   * handler `preemptGraceMs` after its signal (a command: SIGTERM, then SIGKILL after it).
   */
  abort(jobIds: string[], reason: string, options?: AbortOptions): void {
    const grace = options?.preempt ? (this.options.preemptGraceMs ?? DEFAULT_PREEMPT_GRACE_MS) : undefined;
    this.running.abort(jobIds, reason, grace);
  }

  /** The link registered this agent again after a lost connection, perhaps under a new id. */
  reregistered(registered: RegisteredAgent): void {
    this.registration = registered;
    // The server may be another, or restarted: it knows nothing of what lingers here.
    this.lingeringJobs.retry(true);
  }

  held(): HeldJob[] {
    return this.running.held();
  }

  /** Tells the server about GPUs that failed or recovered; jobs on a failed GPU move elsewhere. */
  async reportGpuHealth(changes: GpuHealth[]): Promise<void> {
    if (changes.length === 0 || this._state === 'idle' || this._state === 'stopped') return;
    await this.link.gpuHealth(changes);
  }
}

/** The server a link is connected to, when it says (a `WsLink`'s `server`). */
function serverOf(link: AgentLink): string | undefined {
  const server = (link as { readonly server?: unknown }).server;
  return typeof server === 'string' ? server : undefined;
}
