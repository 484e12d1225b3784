import { describe, expect, it } from 'vitest';
import { SubmitRate } from '../src/quota/submit-rate.js';

describe('SubmitRate', () => {
  it('lets a burst of one second through, then the rate; a large bulk goes when full and leaves debt', () => {
    let now = 0;
    const rate = new SubmitRate(() => now);
    expect(rate.take('u', 5, 5)).toBe(0);
    expect(rate.take('u', 1, 5)).toBe(200);
    now += 200;
    expect(rate.take('u', 1, 5)).toBe(0);
    now += 1000;
    // Full again (5): a bulk of 20 goes and leaves 15 to pay back.
    expect(rate.take('u', 20, 5)).toBe(0);
    expect(rate.take('u', 1, 5)).toBe(3200);
    now += 3200;
    expect(rate.take('u', 1, 5)).toBe(0);
    // Other owners have their own buckets.
    expect(rate.take('v', 5, 5)).toBe(0);
  });

  it('works for rates under one per second', () => {
    let now = 0;
    const rate = new SubmitRate(() => now);
    expect(rate.take('u', 1, 0.5)).toBe(0);
    expect(rate.take('u', 1, 0.5)).toBe(2000);
    now += 2000;
    expect(rate.take('u', 1, 0.5)).toBe(0);
  });
});
