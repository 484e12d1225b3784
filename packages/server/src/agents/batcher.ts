/**
 * Coalesces calls made in the same turn of the event loop into one batched call, so many
 * agents' reports become one store transaction. Results come back to each caller in order.
 */
export class Batcher<I, O> {
  private items: I[] = [];
  private waiters: { count: number; resolve: (out: O[]) => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly run: (items: I[]) => Promise<O[]>) {}

  add(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.items.push(...items);
      this.waiters.push({ count: items.length, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    this.scheduled = false;
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
