/**
 * How a running job is stopped: cancelled, timed out, lease lost or agent draining. The
 * AbortSignal a task sees is made only when the task asks for it: an AbortController per job
 * was a noticeable share of the CPU for short jobs that never look at it.
 */
export class JobAbort {
  private controller: AbortController | null = null;
  private reason: unknown = undefined;
  private aborted = false;
  private readonly rejects: ((reason: unknown) => void)[] = [];

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Aborts once; later calls are ignored. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    for (const reject of this.rejects.splice(0)) reject(reason);
  }

  /** A promise that rejects with the reason when the job is aborted (at once if it already was). */
  whenAborted(): Promise<never> {
    return new Promise<never>((_, reject) => {
      if (this.aborted) reject(this.reason);
      else this.rejects.push(reject);
    });
  }
}
