import { readFile } from 'node:fs/promises';
import type { GpuHealth } from '@baton/core';
import { z } from 'zod';
import { listNvidiaSmi } from './gpus.js';
import { silentLogger, type TaskLogger } from './task.js';

/**
 * Watches the health of an agent's GPUs and reports changes. The source is either nvidia-smi
 * (a GPU that reads as lost or in error, or is no longer listed, is unhealthy) or a health file
 * kept by the site's own checks:
 *
 *     {"unhealthy": {"2": "XID 79", "5": "ECC errors"}}
 *
 * A GPU not listed there is healthy, and so is every GPU while the file does not exist. A file
 * that cannot be read or parsed (say, caught half-written) is logged once and ignored: the last
 * known health stands.
 */

export const DEFAULT_GPU_HEALTH_INTERVAL_MS = 5000;
/** nvidia-smi failing this many polls in a row makes every GPU unhealthy. */
export const DEFAULT_NVIDIA_SMI_FAILURES = 3;

export interface GpuHealthMonitorOptions {
  /** The agent's GPUs and their health when monitoring starts (healthy when not said). */
  gpus: readonly { index: number; healthy?: boolean }[];
  /** Called with the GPUs whose health changed, after a poll that saw any change. */
  onChange(changes: GpuHealth[]): void | Promise<void>;
  /** Read this health file instead of running nvidia-smi. */
  healthFile?: string;
  /** nvidia-smi to run when there is no health file. Default `nvidia-smi` from PATH. */
  nvidiaSmi?: string;
  /** Default 5000. */
  intervalMs?: number;
  /** Consecutive nvidia-smi failures after which every GPU is unhealthy. Default 3. */
  nvidiaSmiFailures?: number;
  logger?: TaskLogger;
}

/** What one poll saw for each GPU, or null when it learnt nothing (the last health stands). */
type Observation = Map<number, { healthy: boolean; reason?: string }> | null;

const healthFileSchema = z.object({
  unhealthy: z.record(z.string().regex(/^\d+$/, 'keys must be GPU indices'), z.string('reasons must be strings')),
});

export class GpuHealthMonitor {
  private readonly state = new Map<number, GpuHealth>();
  private readonly intervalMs: number;
  private readonly failureLimit: number;
  private readonly logger: TaskLogger;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private generation = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private failures = 0;
  private lastProblem: string | null = null;

  constructor(private readonly options: GpuHealthMonitorOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_GPU_HEALTH_INTERVAL_MS;
    this.failureLimit = Math.max(1, options.nvidiaSmiFailures ?? DEFAULT_NVIDIA_SMI_FAILURES);
    this.logger = options.logger ?? silentLogger;
    for (const { index, healthy } of options.gpus) this.state.set(index, { index, healthy: healthy ?? true });
  }

  /** Polls every `intervalMs` until stop(). Idempotent; the timer does not keep the process alive. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(++this.generation);
  }

  /** Stops polling. Idempotent; a poll already under way still reports. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Polls now (after any poll under way), reports changes through onChange, and returns them.
   * Never rejects.
   */
  check(): Promise<GpuHealth[]> {
    const next = this.queue.then(() => this.poll());
    this.queue = next;
    return next;
  }

  /** The last known health of every GPU. */
  current(): GpuHealth[] {
    return [...this.state.values()].map((health) => ({ ...health }));
  }

  private schedule(generation: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check().finally(() => {
        if (this.running && generation === this.generation) this.schedule(generation);
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async poll(): Promise<GpuHealth[]> {
    let observed: Observation;
    try {
      observed = this.options.healthFile
        ? await this.readHealthFile(this.options.healthFile)
        : await this.askNvidiaSmi();
    } catch (err) {
      this.problem(`GPU health check failed: ${messageOf(err)}`);
      return [];
    }
    const changes = observed ? this.apply(observed) : [];
    if (changes.length > 0) {
      try {
        await this.options.onChange(changes.map((change) => ({ ...change })));
      } catch (err) {
        this.logger.error({ err: messageOf(err) }, 'reporting a GPU health change failed');
      }
    }
    return changes;
  }

  private apply(observed: NonNullable<Observation>): GpuHealth[] {
    const changes: GpuHealth[] = [];
    for (const [index, before] of this.state) {
      const seen = observed.get(index) ?? { healthy: true };
      if (seen.healthy === before.healthy && (seen.healthy || seen.reason === before.reason)) continue;
      const now: GpuHealth = seen.healthy ? { index, healthy: true } : { index, healthy: false, reason: seen.reason };
      this.state.set(index, now);
      changes.push(now);
    }
    return changes;
  }

  private async readHealthFile(path: string): Promise<Observation> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.ok(new Map());
      return this.problem(`GPU health file ${path} cannot be read (ignored): ${messageOf(err)}`);
    }
    let parsed: z.infer<typeof healthFileSchema>;
    try {
      const result = healthFileSchema.safeParse(JSON.parse(text));
      if (!result.success) {
        const what = result.error.issues.map((i) => [...i.path.map(String), i.message].join(': ')).join('; ');
        return this.problem(`GPU health file ${path} is invalid (ignored): ${what}`);
      }
      parsed = result.data;
    } catch (err) {
      return this.problem(`GPU health file ${path} is not JSON (ignored): ${messageOf(err)}`);
    }
    const observed = new Map<number, { healthy: boolean; reason?: string }>();
    for (const [key, reason] of Object.entries(parsed.unhealthy)) {
      observed.set(Number(key), { healthy: false, reason: reason || 'health file' });
    }
    return this.ok(observed);
  }

  private async askNvidiaSmi(): Promise<Observation> {
    let failure: string;
    try {
      const listing = await listNvidiaSmi({ nvidiaSmi: this.options.nvidiaSmi });
      if (listing) {
        this.failures = 0;
        const observed = new Map<number, { healthy: boolean; reason?: string }>();
        const missing = listing.unreachable.length
          ? `not listed by nvidia-smi (${listing.unreachable.join('; ')})`
          : 'not listed by nvidia-smi';
        for (const index of this.state.keys()) {
          const gpu = listing.gpus.find((g) => g.index === index);
          if (!gpu) observed.set(index, { healthy: false, reason: missing });
          else if (!gpu.healthy) observed.set(index, { healthy: false, reason: gpu.problem ?? 'nvidia-smi' });
          else observed.set(index, { healthy: true });
        }
        return this.ok(observed);
      }
      failure = 'nvidia-smi not found';
    } catch (err) {
      failure = messageOf(err);
    }
    this.failures++;
    this.problem(`nvidia-smi failed (${this.failures} in a row): ${failure}`, `nvidia-smi failed: ${failure}`);
    if (this.failures < this.failureLimit) return null;
    const observed = new Map<number, { healthy: boolean; reason?: string }>();
    for (const index of this.state.keys())
      observed.set(index, { healthy: false, reason: `nvidia-smi failed: ${failure}` });
    return observed;
  }

  private ok(observed: NonNullable<Observation>): NonNullable<Observation> {
    if (this.lastProblem !== null) this.logger.info('GPU health source readable again');
    this.lastProblem = null;
    return observed;
  }

  /** Logs a problem once, until it changes or goes away; the poll learnt nothing. */
  private problem(message: string, key = message): null {
    if (key !== this.lastProblem) this.logger.warn(message);
    this.lastProblem = key;
    return null;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
