/**
 * Per-owner submission rate: a token bucket holding up to one second's worth of `rate`. A
 * request of `n` jobs is let through once the bucket holds min(n, burst), and takes `n`: a
 * bulk larger than the burst goes through when the bucket is full and leaves it in debt, so
 * the average rate holds and a large bulk is never refused forever. Kept per server, in
 * memory: with many servers behind a balancer, each applies the rate on its own.
 */
export class SubmitRate {
  private readonly buckets = new Map<string, { tokens: number; at: number; rate: number }>();

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly maxOwners = 10_000,
  ) {}

  /** Takes `n` from `owner`'s bucket and returns 0, or returns ms until it could (taking nothing). */
  take(owner: string, n: number, rate: number): number {
    const now = this.clock();
    const burst = Math.max(1, rate);
    const b = this.buckets.get(owner) ?? { tokens: burst, at: now, rate };
    // A changed rate starts from a full bucket of the new size at most.
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    b.rate = rate;
    const needed = Math.min(n, burst);
    this.buckets.delete(owner);
    this.buckets.set(owner, b);
    if (this.buckets.size > this.maxOwners) {
      const stalest = this.buckets.keys().next().value;
      if (stalest !== undefined) this.buckets.delete(stalest);
    }
    if (b.tokens + 1e-9 < needed) return Math.ceil(((needed - b.tokens) / rate) * 1000);
    b.tokens -= n;
    return 0;
  }
}
