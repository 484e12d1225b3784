import { describe, expect, it } from 'vitest';
import { FailedLogins } from '../src/auth/failed-logins.js';

describe('FailedLogins', () => {
  const make = () => {
    let now = 1_000_000;
    const limiter = new FailedLogins({
      freeFailures: 3,
      windowMs: 10_000,
      maxBlockMs: 8000,
      maxAddresses: 2,
      clock: () => now,
    });
    return { limiter, advance: (ms: number) => (now += ms) };
  };

  it('blocks after the free failures, doubling up to the maximum, then forgives after the window', () => {
    const { limiter, advance } = make();
    for (let i = 0; i < 3; i++) limiter.fail('a');
    expect(limiter.blockedFor('a')).toBe(0);
    limiter.fail('a');
    expect(limiter.blockedFor('a')).toBe(1000);
    limiter.fail('a');
    expect(limiter.blockedFor('a')).toBe(2000);
    limiter.fail('a');
    limiter.fail('a');
    limiter.fail('a');
    expect(limiter.blockedFor('a')).toBe(8000);
    expect(limiter.blockedFor('b')).toBe(0);
    advance(8000);
    expect(limiter.blockedFor('a')).toBe(0);
    advance(10_001);
    limiter.fail('a');
    expect(limiter.blockedFor('a')).toBe(0);
  });

  it('keeps at most maxAddresses, forgetting the stalest', () => {
    const { limiter } = make();
    for (let i = 0; i < 4; i++) limiter.fail('a');
    limiter.fail('b');
    limiter.fail('c');
    expect(limiter.size).toBe(2);
    expect(limiter.blockedFor('a')).toBe(0);
  });
});
