import { describe, expect, it } from 'vitest';
import { durationText, expectedRuntimeText } from '../src/format.js';

describe('expected runtime in `baton job`', () => {
  it('says how long, and from where', () => {
    expect(expectedRuntimeText({ expectedRuntimeMs: 90_000, expectedRuntimeSource: 'limit' })).toBe(
      '1 min 30 s (its timeout)',
    );
    expect(expectedRuntimeText({ expectedRuntimeMs: 850, expectedRuntimeSource: 'history' })).toBe(
      '850 ms (learned from recent runs)',
    );
    expect(expectedRuntimeText({ expectedRuntimeMs: null, expectedRuntimeSource: 'none' })).toBe('-');
    // A server from before learned runtimes sends neither field.
    expect(expectedRuntimeText({})).toBe('-');
  });

  it('writes durations for people', () => {
    expect(durationText(0)).toBe('0 ms');
    expect(durationText(999)).toBe('999 ms');
    expect(durationText(999.7)).toBe('1 s');
    expect(durationText(59_960)).toBe('1 min 0 s');
    expect(durationText(1000)).toBe('1 s');
    expect(durationText(12_345)).toBe('12.3 s');
    expect(durationText(200_000)).toBe('3 min 20 s');
    expect(durationText(7_500_000)).toBe('2 h 5 min');
  });
});
