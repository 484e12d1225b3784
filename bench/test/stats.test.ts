import { describe, expect, it } from 'vitest';
import { median, percentile, round, sortedCopy } from '../src/stats.js';

describe('percentile (nearest rank)', () => {
  const oneToHundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);

  it('picks the smallest value with p% of the sample at or below it', () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 99.5)).toBe(100);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile(oneToHundred, 1)).toBe(1);
    expect(percentile(oneToHundred, 0)).toBe(1);
  });

  it('takes a value of the sample, never an interpolation', () => {
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
    expect(percentile([10, 20, 30], 50)).toBe(20);
  });

  it('handles a single value and an empty sample', () => {
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it('refuses p outside 0–100', () => {
    expect(() => percentile([1], -1)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('sorts numerically, not as strings', () => {
    const sorted = sortedCopy([10, 9, 100, 1.5, -2]);
    expect([...sorted]).toEqual([-2, 1.5, 9, 10, 100]);
    expect(median([10, 9, 100, 1.5, -2])).toBe(9);
  });

  it('rounds and maps non-finite values to null', () => {
    expect(round(1.23456)).toBe(1.235);
    expect(round(1.25, 1)).toBe(1.3);
    expect(round(Number.POSITIVE_INFINITY)).toBeNull();
    expect(round(null)).toBeNull();
  });
});
