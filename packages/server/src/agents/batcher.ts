/** How a {@link Batcher} cuts its calls. */
export interface BatcherLimits {
  /**
   * Calls running at once; while that many are in flight, new items gather and go out
   * together when one returns (group commit). Default: no limit, a call every turn.
   */
  maxInFlight?: number;
  /** Items per call at most; a caller's items are never split (one larger than this goes alone). */
  maxBatch?: number;
}

interface Waiter<O> {
  count: number;
  resolve: (out: O[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces calls made in the same turn of the event loop into one batched call, so many
 * agents' reports (or many single submissions) become one store transaction. Results come back
 * to each caller in order; a failed call fails each caller of its batch with its error.
 */
export class Batcher<I, O> {
  private items: I[] = [];
  private waiters: Waiter<O>[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    limits: BatcherLimits = {},
  ) {
    this.maxInFlight = limits.maxInFlight ?? Infinity;
    this.maxBatch = limits.maxBatch ?? Infinity;
  }

  add(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.items.push(...items);
      this.waiters.push({ count: items.length, resolve, reject });
      this.kick();
    });
  }

  /** Items waiting for a call. */
  get backlog(): number {
    return this.items.length;
  }

  private kick(): void {
    if (this.scheduled || this.waiters.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.waiters.length > 0 && this.inFlight < this.maxInFlight) {
      // Whole callers up to maxBatch items (at least one caller).
      let take = 0;
      let count = 0;
      for (const w of this.waiters) {
        if (take > 0 && count + w.count > this.maxBatch) break;
        take += 1;
        count += w.count;
      }
      const waiters = this.waiters.splice(0, take);
      const items = this.items.splice(0, count);
      this.inFlight += 1;
      void this.send(items, waiters).finally(() => {
        this.inFlight -= 1;
        this.kick();
      });
    }
  }

  private async send(items: I[], waiters: Waiter<O>[]): Promise<void> {
    try {
      const out = await this.run(items);
      let offset = 0;
      for (const w of waiters) {
        w.resolve(out.slice(offset, offset + w.count));
        offset += w.count;
      }
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }
}
