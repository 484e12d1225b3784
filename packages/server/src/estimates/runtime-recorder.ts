import type { TransitionResult } from '@baton/core';
import { RUNTIME_KEY_MAX_LENGTH, runtimeClassKey } from '@baton/core';
import type { RuntimeSample, Store } from '@baton/store';
import type { Logger } from 'pino';
import type { HeldJob } from '../agents/held-job.js';

export interface RuntimeRecorderOptions {
  logger: Logger;
  /** Longest a runtime waits before it is written. Default 1 s. */
  flushMs?: number;
  /** Runtimes that make a write at once. Default 500. */
  batch?: number;
}

/** Runtimes kept while the store cannot take them; beyond this, new ones are dropped. */
const MAX_BUFFERED = 10_000;

/**
 * Records succeeded attempts' runtimes for learned estimates, off the per-job path: each is
 * buffered and written with others in one `recordRuntimes` call every `flushMs` (or at once
 * when `batch` are waiting). A runtime is a planning hint, never a job's outcome: a write that
 * fails is logged and its runtimes dropped, and nothing waits on it.
 */
export class RuntimeRecorder {
  private buffer: RuntimeSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly writes = new Set<Promise<void>>();
  private stopped = false;
  private readonly flushMs: number;
  private readonly batch: number;

  constructor(
    private readonly store: Store,
    private readonly options: RuntimeRecorderOptions,
  ) {
    this.flushMs = options.flushMs ?? 1000;
    this.batch = options.batch ?? 500;
  }

  /** An attempt of class `key` succeeded after `runtimeMs`. O(1); no store call here. */
  record(key: string, runtimeMs: number): void {
    if (this.stopped || this.buffer.length >= MAX_BUFFERED) return;
    // What the store would refuse would take the whole batch down with it.
    if (!(runtimeMs >= 0) || !Number.isFinite(runtimeMs) || key.length > RUNTIME_KEY_MAX_LENGTH) return;
    this.buffer.push({ key, runtimeMs });
    if (this.buffer.length >= this.batch) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /**
   * The store recorded these outcomes: each attempt that succeeded counts with its runtime, from
   * its hand-over to its agent until now (this server's clock), under its class (owner, task,
   * resources). Read while the jobs are still held; a job re-adopted on resume (no task known,
   * its start unknown) is left out.
   */
  succeeded(results: readonly TransitionResult[], held: (jobId: string) => HeldJob | undefined): void {
    const now = Date.now();
    for (const r of results) {
      if (!r.ok || r.state !== 'succeeded') continue;
      const job = held(r.jobId);
      if (!job?.owner || !job.task || job.startedAt === undefined) continue;
      this.record(runtimeClassKey(job.owner, job.task, job.resources), Math.max(0, now - job.startedAt));
    }
  }

  /** Writes what is buffered now, in the background. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length === 0) return;
    const samples = this.buffer;
    this.buffer = [];
    const write = this.store.recordRuntimes(samples).catch((err: unknown) => {
      this.options.logger.warn({ err, runtimes: samples.length }, 'could not record job runtimes; dropped them');
    });
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  /** Writes what is buffered and waits for every write under way. Idempotent. */
  async stop(): Promise<void> {
    this.flush();
    this.stopped = true;
    await Promise.all([...this.writes]);
  }
}
