import { BatonError } from '@baton/core';
import { FINAL_JOB_STATES } from '@baton/store';
import type { FinalJobState, Store } from '@baton/store';
import type { Logger } from 'pino';

const DAY_MS = 24 * 60 * 60 * 1000;

/** How long finished jobs are kept, per final state, and how often they are swept. */
export interface RetentionOptions {
  /** Keep succeeded jobs this long after they finished; 0 keeps them forever. [7 days] */
  succeededMs: number;
  /** Keep failed jobs this long after they finished; 0 keeps them forever. [30 days] */
  failedMs: number;
  /** Keep cancelled jobs this long after they finished; 0 keeps them forever. [7 days] */
  cancelledMs: number;
  /** How often the sweeper runs; its first run comes after this or 5 s, whichever is sooner. [60 000] */
  sweepIntervalMs: number;
}

export const DEFAULT_RETENTION: Readonly<RetentionOptions> = {
  succeededMs: 7 * DAY_MS,
  failedMs: 30 * DAY_MS,
  cancelledMs: 7 * DAY_MS,
  sweepIntervalMs: 60_000,
};

/** Jobs one deleteFinished call takes: one short transaction, then the event loop gets a turn. */
export const RETENTION_BATCH = 1000;
/** Batches per run at most, all states together: a backlog drains over several runs. */
export const RETENTION_MAX_BATCHES = 100;
/** Longest stop() waits for a run in progress. */
const STOP_WAIT_MS = 2000;
/** The first run waits at most this long after start. */
const FIRST_RUN_MS = 5000;

/** Fills the defaults and fails fast, naming the field, on a value that cannot work. */
export function resolveRetention(options: Partial<RetentionOptions> = {}): RetentionOptions {
  const resolved = { ...DEFAULT_RETENTION, ...options };
  for (const state of FINAL_JOB_STATES) {
    const value = resolved[`${state}Ms`];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new BatonError(
        'INVALID_OPTION',
        `retention.${state}Ms must be an integer ≥ 0 (0 keeps ${state} jobs forever), got ${value}`,
        400,
      );
    }
  }
  if (!Number.isSafeInteger(resolved.sweepIntervalMs) || resolved.sweepIntervalMs < 10) {
    throw new BatonError(
      'INVALID_OPTION',
      `retention.sweepIntervalMs must be an integer ≥ 10, got ${resolved.sweepIntervalMs}`,
      400,
    );
  }
  return resolved;
}

export interface RetentionSweeperOptions {
  retention: RetentionOptions;
  /** Whether this server sweeps for the fleet now (it holds scheduler shard 0). */
  isSweeper: () => boolean;
  logger: Logger;
}

/** What a sweeper did since it started. */
export interface RetentionStats {
  /** Runs in which this server swept (it held shard 0). */
  runs: number;
  /** Runs skipped because another server sweeps. */
  skipped: number;
  /** Jobs this server deleted. */
  deleted: number;
}

/**
 * Deletes finished jobs past their state's retention, on a timer. Only the server whose
 * scheduler holds shard 0 sweeps, so a fleet sweeps once per interval, not once per server.
 * Each run deletes in batches of {@link RETENTION_BATCH}, yielding to the event loop between
 * them, at most {@link RETENTION_MAX_BATCHES} per run. A failing store is logged and waits for
 * the next run; nothing here rejects unobserved.
 */
export class RetentionSweeper {
  readonly stats: RetentionStats = { runs: 0, skipped: 0, deleted: 0 };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly options: RetentionSweeperOptions,
  ) {}

  /** Whether any state has a retention (all 0: nothing to sweep, no timer). */
  get enabled(): boolean {
    return FINAL_JOB_STATES.some((state) => this.options.retention[`${state}Ms`] > 0);
  }

  /** Schedules the first run. Idempotent. */
  start(): void {
    if (this.stopped || this.timer || !this.enabled) return;
    this.schedule(Math.min(FIRST_RUN_MS, this.options.retention.sweepIntervalMs));
  }

  /**
   * Stops the timer and waits for a run in progress (it ends after its current batch), at most
   * {@link STOP_WAIT_MS}: a store that hangs must not hold the server's shutdown.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) return;
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      this.running,
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, STOP_WAIT_MS);
        timeout.unref();
      }),
    ]);
    clearTimeout(timeout);
  }

  /** One run now, if this server is the sweeper: resolves with the jobs it deleted. Never rejects. */
  async sweep(): Promise<number> {
    if (this.running) {
      await this.running;
      return 0;
    }
    let deleted = 0;
    this.running = this.run().then(
      (n) => {
        deleted = n;
      },
      (err: unknown) => this.report(err),
    );
    try {
      await this.running;
    } finally {
      this.running = null;
    }
    return deleted;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.sweep().finally(() => {
        if (!this.stopped) this.schedule(this.options.retention.sweepIntervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async run(): Promise<number> {
    if (!this.options.isSweeper()) {
      this.stats.skipped++;
      return 0;
    }
    this.stats.runs++;
    const now = Date.now();
    let batches = 0;
    let deleted = 0;
    for (const state of FINAL_JOB_STATES) {
      const keepMs = this.options.retention[`${state}Ms`];
      if (keepMs === 0) continue;
      for (;;) {
        if (this.stopped || batches >= RETENTION_MAX_BATCHES) break;
        batches++;
        const n = await this.deleteBatch(state, now - keepMs);
        deleted += n;
        this.stats.deleted += n;
        if (n < RETENTION_BATCH) break;
        // Requests and the scheduler run between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (deleted > 0) {
      this.options.logger.info({ deleted, batches }, 'retention deleted finished jobs');
    }
    if (batches >= RETENTION_MAX_BATCHES) {
      this.options.logger.info({ deleted }, 'retention backlog: the next run goes on');
    }
    return deleted;
  }

  private async deleteBatch(state: FinalJobState, finishedBefore: number): Promise<number> {
    const { deleted } = await this.store.deleteFinished(finishedBefore, RETENTION_BATCH, state);
    return deleted;
  }

  private report(err: unknown): void {
    if (err instanceof BatonError && err.code === 'STORE_UNAVAILABLE') {
      this.options.logger.warn({ err }, 'retention skipped: the store is unavailable; the next run tries again');
      return;
    }
    this.options.logger.error({ err }, 'retention run failed; the next run tries again');
  }
}
