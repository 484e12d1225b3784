import { describe, expect, it } from 'vitest';
import { MAX_RETRY_DELAY_MS, newJobId, retryDelayMs } from '@baton/core';

describe('retryDelayMs', () => {
  it('doubles per attempt, with equal jitter between half and all of it', () => {
    expect(retryDelayMs(1000, 1, () => 0)).toBe(500);
    expect(retryDelayMs(1000, 1, () => 1)).toBe(1000);
    expect(retryDelayMs(1000, 3, () => 0)).toBe(2000);
    expect(retryDelayMs(1000, 3, () => 0.999999)).toBe(4000);
  });

  it('is capped and zero for no backoff', () => {
    expect(retryDelayMs(1000, 40, () => 1)).toBe(MAX_RETRY_DELAY_MS);
    expect(retryDelayMs(0, 5)).toBe(0);
  });
});

describe('newJobId', () => {
  it('sorts in creation order, even within one millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => newJobId(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
    const later = newJobId(1_700_000_000_001);
    expect(later > ids[999]!).toBe(true);
    // A clock stepping back never yields a smaller id.
    expect(newJobId(1_600_000_000_000) > later).toBe(true);
    expect(later).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});
