import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type {
  AgentCapacity,
  AgentInbox,
  AgentRegistration,
  CapacityRelease,
  GpuDevice,
  LingeringJob,
  PriorityClass,
  RunningJobView,
  TransitionResult,
} from '@baton/core';
import {
  DEFAULT_MIN_RUNTIME_MS,
  DEFAULT_POOL,
  DEFAULT_PREEMPT_GRACE_MS,
  ValidationError,
  isDedicated,
} from '@baton/core';
import { queuesOf } from './agent-routes.js';
import type { HeldJob } from './held-job.js';

export type { HeldJob } from './held-job.js';

/**
 * Lifecycle of an agent as this server sees it: `connected` takes work; `draining` finishes
 * what it has and takes nothing new; `disconnected` lost its connection but may come back
 * within the reconnect grace and keep its jobs.
 */
export type AgentSessionState = 'connected' | 'draining' | 'disconnected';

export interface GpuState extends GpuDevice {
  /** Why the GPU is unhealthy, when it is. */
  reason?: string;
}

export interface AgentDeclaration {
  name: string;
  pool: string;
  queues: string[];
  tasks: Set<string>;
  tags: string[];
  slots: number;
  /** Infinity when the agent did not declare it: jobs asking none always fit. */
  cpu: number;
  memoryMb: number;
  gpus: GpuState[];
  /** Classes the agent is dedicated to, or null: it takes every class. */
  priorities: PriorityClass[] | null;
  preemptible: boolean;
  /** How long a preempted job's handler gets after its abort (ms). */
  preemptGraceMs: number;
  /** A job that has run here less than this (ms) is not preempted. */
  minRuntimeMs: number;
}

/**
 * One agent known to this server: what it declared, what its jobs hold, and how it is
 * connected. Usage is kept as running sums so a scheduling pass reads every agent in O(1).
 */
export class AgentSession {
  state: AgentSessionState = 'connected';
  /** Runs inside the server's process (`baton dev`): never silent, never declared dead. */
  inProcess = false;
  inbox: AgentInbox | null;
  lastSeenAt: number;
  disconnectedAt: number | null = null;
  /**
   * When this server last renewed the agent's leases (assign, start, heartbeat or resume, once
   * the store answered); 0 before it did. A lease ending later than this plus the lease was
   * renewed by another server: see liveness.ts.
   */
  leasesRenewedAt = 0;
  readonly held = new Map<string, HeldJob>();
  readonly gpus = new Map<number, GpuState>();
  private usedSlots = 0;
  private usedCpu = 0;
  private usedMemoryMb = 0;
  private readonly gpuHolders = new Map<number, string>();
  /** SHA-256 of the secret a resume must present; only the digest is kept. */
  private resumeDigest: Buffer = Buffer.alloc(32);
  /** Held jobs with a known end bound; releases are listed only when some have one. */
  private bounded = 0;
  /**
   * Jobs that ended while their handler, ignoring its abort signal, runs on, as the agent last
   * reported them (agent-wire's `lingering`): their room stays taken on the agent until the
   * handler returns, so it is counted here as used.
   */
  private lingeringJobs = new Map<string, LingeringJob>();

  constructor(
    readonly id: string,
    public declaration: AgentDeclaration,
    inbox: AgentInbox,
    readonly connectedAt: number,
  ) {
    this.inbox = inbox;
    this.lastSeenAt = connectedAt;
    this.declare(declaration);
  }

  /** Takes a (re-)registration's declaration; held jobs are kept. */
  declare(declaration: AgentDeclaration): void {
    this.declaration = declaration;
    this.gpus.clear();
    for (const gpu of declaration.gpus) this.gpus.set(gpu.index, { ...gpu });
  }

  /**
   * Sets the secret a resume of this session must present: the one given (a resume that
   * brought its secret to a server that had no session for it), or a new random one.
   */
  issueResumeSecret(kept?: string): string {
    const secret = kept ?? randomBytes(32).toString('base64url');
    this.resumeDigest = digest(secret);
    return secret;
  }

  /** Whether `secret` is this session's resume secret (constant time). */
  resumableWith(secret: string | undefined): boolean {
    return secret !== undefined && timingSafeEqual(digest(secret), this.resumeDigest);
  }

  get name(): string {
    return this.declaration.name;
  }

  hold(jobId: string, job: HeldJob): void {
    if (this.held.has(jobId)) return;
    const now = Date.now();
    // Every field written out, in one order: held jobs share one object shape (a spread of
    // callers' objects of several shapes cost a few µs per job on the hot path).
    this.held.set(jobId, {
      leaseToken: job.leaseToken,
      resources: job.resources,
      gpus: job.gpus,
      endsBy: job.endsBy,
      estimated: job.estimated ?? false,
      priority: job.priority ?? null,
      owner: job.owner ?? null,
      queue: job.queue ?? null,
      task: job.task ?? null,
      startedAt: job.startedAt ?? now,
      preempting: job.preempting ?? false,
      renewedAt: job.renewedAt ?? now,
      unrecorded: job.unrecorded ?? false,
    });
    this.usedSlots += job.resources.slots;
    this.usedCpu += job.resources.cpu;
    this.usedMemoryMb += job.resources.memoryMb;
    for (const index of job.gpus) this.gpuHolders.set(index, jobId);
    if (Number.isFinite(job.endsBy)) this.bounded++;
  }

  /** Frees what a job held. Returns whether it was held. */
  release(jobId: string): boolean {
    const job = this.held.get(jobId);
    if (!job) return false;
    this.held.delete(jobId);
    this.usedSlots -= job.resources.slots;
    this.usedCpu -= job.resources.cpu;
    this.usedMemoryMb -= job.resources.memoryMb;
    for (const index of job.gpus) if (this.gpuHolders.get(index) === jobId) this.gpuHolders.delete(index);
    if (Number.isFinite(job.endsBy)) this.bounded--;
    return true;
  }

  /**
   * The store answered reports on these jobs at `at`: a renewed lease is noted; a refused one
   * for a job whose outcome is unrecorded frees its room (its lease is gone, so is the job
   * here). Returns whether any room came back.
   */
  renewed(results: readonly TransitionResult[], at: number): boolean {
    let freed = false;
    for (const result of results) {
      const job = this.held.get(result.jobId);
      if (!job) continue;
      if (result.ok) job.renewedAt = at;
      else if (job.unrecorded) freed = this.release(result.jobId) || freed;
    }
    return freed;
  }

  /** These jobs' outcomes could not be recorded: they keep their room until recorded or lapsed. */
  outcomeUnrecorded(jobIds: readonly string[]): void {
    for (const jobId of jobIds) {
      const job = this.held.get(jobId);
      if (job) job.unrecorded = true;
    }
  }

  /**
   * Frees jobs whose outcome could not be recorded and whose lease has lapsed since (no renewal
   * for `leaseMs`): the agent gave up reporting, the store runs them again. Returns their ids.
   */
  releaseLapsed(now: number, leaseMs: number): string[] {
    const lapsed: string[] = [];
    for (const [jobId, job] of this.held) {
      if (job.unrecorded && now >= (job.renewedAt ?? 0) + leaseMs) lapsed.push(jobId);
    }
    for (const jobId of lapsed) this.release(jobId);
    return lapsed;
  }

  /**
   * Marks held jobs as being preempted (the agent is told to stop them); returns those it holds.
   * Their room stays taken until their outcome comes in: the victim may run for its grace.
   */
  preempt(jobIds: readonly string[]): string[] {
    const marked: string[] = [];
    for (const jobId of jobIds) {
      const job = this.held.get(jobId);
      if (!job) continue;
      job.preempting = true;
      marked.push(jobId);
    }
    return marked;
  }

  releaseAll(): void {
    for (const jobId of [...this.held.keys()]) this.release(jobId);
  }

  /**
   * Takes the agent's report of its lingering jobs (the whole set, replacing the last one).
   * An agent cannot keep more room than it declared: a report claiming more slots than it has,
   * a GPU it does not have, or one GPU twice is refused (`INVALID_LINGERING`).
   */
  setLingering(jobs: readonly LingeringJob[]): void {
    const byId = new Map<string, LingeringJob>();
    const gpus = new Set<number>();
    let slots = 0;
    for (const job of jobs) {
      if (byId.has(job.jobId)) throw invalidLingering(`job ${job.jobId} is listed twice`);
      slots += job.slots;
      for (const index of job.gpus) {
        if (!this.gpus.has(index))
          throw invalidLingering(`job ${job.jobId} names GPU ${index}, which the agent does not have`);
        if (gpus.has(index)) throw invalidLingering(`GPU ${index} is named by two lingering jobs`);
        gpus.add(index);
      }
      byId.set(job.jobId, { jobId: job.jobId, slots: job.slots, gpus: [...job.gpus], since: job.since });
    }
    if (slots > this.declaration.slots) {
      throw invalidLingering(`lingering jobs hold ${slots} slots; the agent has ${this.declaration.slots}`);
    }
    this.lingeringJobs = byId;
  }

  /** The lingering jobs the agent reported, oldest first. */
  get lingering(): LingeringJob[] {
    return [...this.lingeringJobs.values()].sort((a, b) => a.since - b.since);
  }

  /**
   * What lingering jobs keep: those the server still holds (their outcome not yet in) are
   * counted once, as held.
   */
  private lingeringUse(): { slots: number; gpus: Map<number, string> } {
    let slots = 0;
    const gpus = new Map<number, string>();
    for (const job of this.lingeringJobs.values()) {
      if (this.held.has(job.jobId)) continue;
      slots += job.slots;
      for (const index of job.gpus) gpus.set(index, job.jobId);
    }
    return { slots, gpus };
  }

  /** The job holding a GPU, if any: a held one, else a lingering one. */
  gpuHolder(index: number): string | undefined {
    const held = this.gpuHolders.get(index);
    if (held !== undefined || this.lingeringJobs.size === 0) return held;
    return this.lingeringUse().gpus.get(index);
  }

  /** Slots taken: by held jobs, and by lingering ones. */
  get slotsUsed(): number {
    return this.usedSlots + (this.lingeringJobs.size === 0 ? 0 : this.lingeringUse().slots);
  }

  healthyGpus(): GpuState[] {
    return [...this.gpus.values()].filter((g) => g.healthy);
  }

  /** Whether the scheduler may place work here now. */
  get schedulable(): boolean {
    return this.state === 'connected' && this.inbox !== null;
  }

  capacity(): AgentCapacity {
    const d = this.declaration;
    const healthy = this.healthyGpus();
    const lingering = this.lingeringJobs.size === 0 ? null : this.lingeringUse();
    return {
      id: this.id,
      pool: d.pool,
      queues: d.queues,
      tasks: d.tasks,
      tags: d.tags,
      // Held and lingering jobs may together claim more than the agent has, briefly (work
      // admitted before the agent reported a handler lingering): that work waits on the agent.
      freeSlots: Math.max(0, d.slots - this.usedSlots - (lingering?.slots ?? 0)),
      freeCpu: d.cpu - this.usedCpu,
      freeMemoryMb: d.memoryMb - this.usedMemoryMb,
      freeGpus: healthy
        .filter((g) => !this.gpuHolders.has(g.index) && !lingering?.gpus.has(g.index))
        .map((g) => g.index)
        .sort((a, b) => a - b),
      gpuCount: healthy.length,
      total: { slots: d.slots, cpu: d.cpu, memoryMb: d.memoryMb, gpus: healthy.length },
      ...(this.bounded > 0 && { releases: this.releases() }),
      ...(d.priorities !== null && { priorities: d.priorities }),
      // Only a preemptible agent's jobs can be victims: only there are they listed.
      ...(d.preemptible && {
        preemptible: true,
        preemptGraceMs: d.preemptGraceMs,
        minRuntimeMs: d.minRuntimeMs,
        running: this.runningViews(),
      }),
    };
  }

  /** The held jobs as a scheduler choosing preemption victims sees them. */
  private runningViews(): RunningJobView[] {
    const views: RunningJobView[] = [];
    for (const [jobId, job] of this.held) {
      views.push({
        jobId,
        priority: job.priority ?? null,
        owner: job.owner ?? null,
        startedAt: job.startedAt ?? this.connectedAt,
        slots: job.resources.slots,
        cpu: job.resources.cpu,
        memoryMb: job.resources.memoryMb,
        gpus: job.gpus,
        ...(job.preempting && { preempting: true }),
      });
    }
    return views;
  }

  /**
   * When held room comes back: each job's end bound (timeouts are enforced), or its expected end
   * (a learned runtime: planned with, never enforced; an overrun reads as room due now).
   */
  private releases(): CapacityRelease[] {
    const now = Date.now();
    return [...this.held.values()].map((job) => ({
      // A job past its estimate may run much longer (estimates are never enforced): unknown
      // again, rather than due now, so no hold counts on its room coming back.
      atMs: job.estimated && job.endsBy < now ? Infinity : job.endsBy,
      slots: job.resources.slots,
      gpus: job.gpus.filter((i) => this.gpus.get(i)?.healthy).length,
      cpu: job.resources.cpu,
      memoryMb: job.resources.memoryMb,
    }));
  }
}

/** What a registration declares, with defaults filled in. */
export function declarationOf(r: AgentRegistration, id: string): AgentDeclaration {
  return {
    name: r.name ?? id,
    pool: r.pool ?? DEFAULT_POOL,
    queues: queuesOf(r),
    tasks: new Set(r.tasks.map((t) => t.task)),
    tags: r.tags ?? [],
    slots: r.slots,
    cpu: r.cpu ?? Infinity,
    memoryMb: r.memoryMb ?? Infinity,
    gpus: (r.gpus ?? []).map((g) => ({ ...g })),
    // Every class listed is the same as none: not dedicated.
    priorities: isDedicated(r.priorities) ? [...new Set(r.priorities)] : null,
    preemptible: r.preemptible === true,
    preemptGraceMs: r.preemptGraceMs ?? DEFAULT_PREEMPT_GRACE_MS,
    minRuntimeMs: r.minRuntimeMs ?? DEFAULT_MIN_RUNTIME_MS,
  };
}

function invalidLingering(why: string): ValidationError {
  return new ValidationError(`lingering report refused: ${why}`, undefined, 'INVALID_LINGERING');
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
