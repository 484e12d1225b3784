import { describe, expect, it } from 'vitest';
import { duration, previewJson } from '../src/format.js';

describe('figures on the page', () => {
  it('writes durations in the unit that reads best', () => {
    expect(duration(null)).toBe('—');
    expect(duration(250)).toBe('250 ms');
    expect(duration(1500)).toBe('1.5 s');
    expect(duration(42_000)).toBe('42 s');
    expect(duration(125_000)).toBe('2 min 5 s');
    expect(duration(3 * 3_600_000 + 60_000)).toBe('3 h 1 min');
    expect(duration(2 * 86_400_000)).toBe('2 d 0 h');
  });

  it('shows small JSON pretty and cuts a large one without pretty-printing it whole', () => {
    expect(previewJson({ a: 1 })).toEqual({ text: '{\n  "a": 1\n}', size: 7, truncated: false });
    const big = { data: 'x'.repeat(5_000_000) };
    const p = previewJson(big);
    expect(p.truncated).toBe(true);
    expect(p.text.length).toBe(20_000);
    expect(p.size).toBe(5_000_011);
    expect(previewJson(undefined).text).toBe('null');
  });
});
