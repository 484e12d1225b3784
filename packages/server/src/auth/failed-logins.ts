/**
 * Slows down token guessing: an address that presented `freeFailures` bad tokens within
 * `windowMs` is refused (429, `Retry-After`) for a while after each further failure, doubling
 * from one second up to `maxBlockMs`. While blocked, every authenticated request from it is
 * refused, a good token's too: otherwise a guesser holding one valid token could probe freely.
 * A success does not reset the count, for the same reason. Memory is bounded: past
 * `maxAddresses`, the address seen least recently is forgotten.
 */
export interface FailedLoginOptions {
  freeFailures: number;
  windowMs: number;
  maxBlockMs: number;
  maxAddresses: number;
  clock: () => number;
}

export const DEFAULT_FAILED_LOGIN_OPTIONS: FailedLoginOptions = {
  freeFailures: 10,
  windowMs: 60_000,
  maxBlockMs: 60_000,
  maxAddresses: 10_000,
  clock: Date.now,
};

interface Record {
  failures: number;
  firstAt: number;
  blockedUntil: number;
}

export class FailedLogins {
  private readonly byAddress = new Map<string, Record>();
  private readonly options: FailedLoginOptions;

  constructor(options: Partial<FailedLoginOptions> = {}) {
    this.options = { ...DEFAULT_FAILED_LOGIN_OPTIONS, ...options };
  }

  /** Milliseconds `address` must still wait before it may try a token, or 0. */
  blockedFor(address: string): number {
    const r = this.byAddress.get(address);
    if (!r) return 0;
    return Math.max(0, r.blockedUntil - this.options.clock());
  }

  fail(address: string): void {
    const now = this.options.clock();
    let r = this.byAddress.get(address);
    if (!r || now - r.firstAt > this.options.windowMs) r = { failures: 0, firstAt: now, blockedUntil: 0 };
    r.failures += 1;
    const over = r.failures - this.options.freeFailures;
    if (over > 0) r.blockedUntil = now + Math.min(1000 * 2 ** Math.min(over - 1, 30), this.options.maxBlockMs);
    // Re-inserting keeps the map in order of last failure: the first key is the stalest.
    this.byAddress.delete(address);
    this.byAddress.set(address, r);
    if (this.byAddress.size > this.options.maxAddresses) {
      const stalest = this.byAddress.keys().next().value;
      if (stalest !== undefined) this.byAddress.delete(stalest);
    }
  }

  get size(): number {
    return this.byAddress.size;
  }
}
