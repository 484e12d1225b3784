import { Worker } from 'node:worker_threads';

interface WorkerMessage {
  error?: string;
  truncated?: number;
  truncateError?: string;
}

/**
 * Owns the checkpoint worker of one SQLite file. If the worker cannot run, `onFailure` lets
 * the store fall back to SQLite's own (blocking) automatic checkpoints.
 */
export class BackgroundCheckpoints {
  private readonly worker: Worker;
  private stopped = false;
  private failed = false;
  private nextTruncate = 0;
  private readonly truncations = new Map<number, () => void>();

  constructor(path: string, onFailure: (reason: string) => void, intervalMs = 250) {
    this.worker = new Worker(new URL('./checkpointer.js', import.meta.url), { workerData: { path, intervalMs } });
    this.worker.unref();
    const fail = (reason: string) => {
      this.failed = true;
      this.settleTruncations();
      onFailure(reason);
    };
    this.worker.on('message', (m: WorkerMessage) => {
      if (m.error) fail(m.error);
      if (m.truncated !== undefined) {
        // A failed truncation is not the worker failing: the WAL keeps its size until the next one.
        this.truncations.get(m.truncated)?.();
        this.truncations.delete(m.truncated);
      }
    });
    this.worker.on('error', (err) => fail(err.message));
    this.worker.on('exit', (code) => {
      this.settleTruncations();
      if (!this.stopped && code !== 0) fail(`checkpoint worker exited with ${code}`);
    });
  }

  /** Whether the worker still checkpoints (else SQLite's automatic checkpoints do). */
  get running(): boolean {
    return !this.stopped && !this.failed;
  }

  /**
   * Asks the worker to checkpoint and truncate the WAL; resolves when it has tried (or has
   * stopped). Never rejects: a WAL that stays large is a cost, not an error.
   */
  truncate(): Promise<void> {
    if (!this.running) return Promise.resolve();
    const n = this.nextTruncate++;
    return new Promise<void>((resolve) => {
      this.truncations.set(n, resolve);
      this.worker.postMessage({ truncate: n });
    });
  }

  private settleTruncations(): void {
    for (const resolve of this.truncations.values()) resolve();
    this.truncations.clear();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Held while it stops: a process with nothing else to do must not exit halfway through close().
    this.worker.ref();
    this.worker.postMessage('stop');
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([exited, timeout]);
    await this.worker.terminate();
  }
}
