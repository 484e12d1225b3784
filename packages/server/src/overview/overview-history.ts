import type { Logger } from 'pino';
import type { QueueStats, Store } from '@baton/store';

/** One moment of the whole store's jobs, as `GET /api/overview/history` shows it. */
export interface OverviewSample {
  /** When it was taken (epoch ms, this server's clock). */
  at: number;
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** The longest wait of a queued job, over every queue; null when none waits. */
  oldestQueuedAgeMs: number | null;
  /**
   * Jobs that reached a final state per second since the sample before, from the change in the
   * final counts, clamped at 0: retention deleting finished jobs lowers the counts, which would
   * read as negative (and hides that many finishes). Null in the first sample, with nothing before it.
   */
  finishedPerSec: number | null;
}

export const OVERVIEW_INTERVAL_MS = 5000;
/** How far back the history goes. */
export const OVERVIEW_SPAN_MS = 30 * 60 * 1000;

const finished = (s: Pick<OverviewSample, 'succeeded' | 'failed' | 'cancelled'>) =>
  s.succeeded + s.failed + s.cancelled;

/** A sample of the totals of `queueStats` (one cheap store read: the kept counts). */
export function sampleOf(stats: readonly QueueStats[], at: number, before: OverviewSample | undefined): OverviewSample {
  const sample: OverviewSample = {
    at,
    queued: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    oldestQueuedAgeMs: null,
    finishedPerSec: null,
  };
  for (const s of stats) {
    sample.queued += s.counts.queued;
    // `assigned` is handed over and about to start: the dashboard's "running" holds both.
    sample.running += s.counts.running + s.counts.assigned;
    sample.succeeded += s.counts.succeeded;
    sample.failed += s.counts.failed;
    sample.cancelled += s.counts.cancelled;
    if (s.oldestQueuedAgeMs !== null)
      sample.oldestQueuedAgeMs = Math.max(sample.oldestQueuedAgeMs ?? 0, s.oldestQueuedAgeMs);
  }
  if (before !== undefined && at > before.at) {
    sample.finishedPerSec = Math.max(0, ((finished(sample) - finished(before)) * 1000) / (at - before.at));
  }
  return sample;
}

/**
 * Every server keeps its own short history of the store's job counts, sampled every 5 s for
 * the last 30 minutes, in memory: a dashboard's charts need no store of their own. A server
 * that just started has a short history; a failed read leaves a gap (logged at debug).
 */
export class OverviewHistory {
  private readonly samples: OverviewSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private readonly intervalMs: number;
  private readonly capacity: number;
  private readonly clock: () => number;
  private readonly logger: Logger;

  constructor(
    private readonly store: Store,
    options: { logger: Logger; intervalMs?: number; spanMs?: number; clock?: () => number },
  ) {
    this.logger = options.logger;
    this.intervalMs = options.intervalMs ?? OVERVIEW_INTERVAL_MS;
    this.capacity = Math.max(1, Math.floor((options.spanMs ?? OVERVIEW_SPAN_MS) / this.intervalMs));
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    // A chart is never a reason to keep a process alive.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reading;
  }

  /** Takes one sample now (a read already under way is not doubled). */
  sample(): Promise<void> {
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  history(): { intervalMs: number; samples: OverviewSample[] } {
    return { intervalMs: this.intervalMs, samples: [...this.samples] };
  }

  private async read(): Promise<void> {
    try {
      const stats = await this.store.queueStats();
      this.samples.push(sampleOf(stats, this.clock(), this.samples[this.samples.length - 1]));
      if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
    } catch (err) {
      this.logger.debug({ err }, 'overview: could not sample the store');
    }
  }
}
