import { Worker } from 'node:worker_threads';

/**
 * Owns the checkpoint worker of one SQLite file. If the worker cannot run, `onFailure` lets
 * the store fall back to SQLite's own (blocking) automatic checkpoints.
 */
export class BackgroundCheckpoints {
  private readonly worker: Worker;
  private stopped = false;

  constructor(path: string, onFailure: (reason: string) => void, intervalMs = 250) {
    this.worker = new Worker(new URL('./checkpointer.js', import.meta.url), { workerData: { path, intervalMs } });
    this.worker.unref();
    this.worker.on('message', (m: { error?: string }) => {
      if (m.error) onFailure(m.error);
    });
    this.worker.on('error', (err) => onFailure(err.message));
    this.worker.on('exit', (code) => {
      if (!this.stopped && code !== 0) onFailure(`checkpoint worker exited with ${code}`);
    });
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
