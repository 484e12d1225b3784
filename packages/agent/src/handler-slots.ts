import type { JobAbort } from './job-abort.js';

/** What one job's handler takes while it runs. */
export interface HandlerNeed {
  slots: number;
  gpus: readonly number[];
}

interface Waiter {
  need: HandlerNeed;
  grant(): void;
}

/**
 * The agent's own count of slots and GPUs taken by running handlers. A handler that ignores its
 * AbortSignal runs on after its job was cancelled or timed out (it is "lingering") while the
 * server, told the outcome, hands the slot to new work: that work waits here until the
 * handler returns, so the agent never runs more than its slots, nor two jobs on one GPU. Jobs
 * wait in arrival order, so a large one is not passed over by small ones forever.
 */
export class HandlerSlots {
  private used = 0;
  private readonly gpus = new Set<number>();
  private readonly waiting: Waiter[] = [];

  constructor(private readonly slots: number) {}

  /** Slots taken by handlers now. */
  get taken(): number {
    return this.used;
  }

  /**
   * Waits until the handler fits (at once when it does and nobody waits before it), then
   * reserves its room; the function returned gives it back (once). Rejects with the abort's
   * reason when the job is aborted while waiting.
   */
  acquire(need: HandlerNeed, abort: JobAbort): Promise<() => void> {
    // A job asking more than the agent has (the server never places one) takes all of it.
    const fitted = { slots: Math.min(need.slots, this.slots), gpus: need.gpus };
    if (this.waiting.length === 0 && this.fits(fitted)) return Promise.resolve(this.reserve(fitted));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { need: fitted, grant: () => resolve(this.reserve(fitted)) };
      this.waiting.push(waiter);
      abort.whenAborted().catch((reason: unknown) => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return; // granted already
        this.waiting.splice(i, 1);
        reject(reason);
        this.grantWaiting(); // the head may have left: those behind it may fit
      });
    });
  }

  private fits(need: HandlerNeed): boolean {
    return this.used + need.slots <= this.slots && need.gpus.every((g) => !this.gpus.has(g));
  }

  private reserve(need: HandlerNeed): () => void {
    this.used += need.slots;
    for (const g of need.gpus) this.gpus.add(g);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= need.slots;
      for (const g of need.gpus) this.gpus.delete(g);
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.need)) this.waiting.shift()!.grant();
  }
}
