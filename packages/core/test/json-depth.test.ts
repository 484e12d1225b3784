import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '@baton/core';
import { MAX_PAYLOAD_DEPTH, decodeFrame, encodeFrame, nestedDeeperThan, textNestedDeeperThan } from '@baton/core';

const arrays = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const objects = (depth: number) => `${'{"k":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** The depth by definition, recursively: the reference the loops are checked against. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe('nestedDeeperThan', () => {
  it('counts containers, not scalars', () => {
    expect(nestedDeeperThan(1, 0)).toBe(false);
    expect(nestedDeeperThan('[[[', 0)).toBe(false);
    expect(nestedDeeperThan(null, 0)).toBe(false);
    expect(nestedDeeperThan([], 0)).toBe(true);
    expect(nestedDeeperThan([], 1)).toBe(false);
    expect(nestedDeeperThan({ a: [1, { b: 2 }] }, 2)).toBe(true);
    expect(nestedDeeperThan({ a: [1, { b: 2 }] }, 3)).toBe(false);
  });

  it('is exact at the limit, for arrays and objects', () => {
    for (const text of [arrays(64), objects(64)]) {
      expect(nestedDeeperThan(JSON.parse(text), 64)).toBe(false);
      expect(nestedDeeperThan(JSON.parse(text), 63)).toBe(true);
    }
  });

  it('walks a million levels without overflowing the stack', () => {
    expect(nestedDeeperThan(JSON.parse(arrays(1_000_000)), 64)).toBe(true);
  });

  it('agrees with the recursive definition on generated values', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const gen = (budget: number): unknown => {
      const r = next();
      if (budget <= 0 || r < 0.3) return r < 0.15 ? 'x' : 1;
      const n = Math.floor(next() * 4);
      const kids = Array.from({ length: n }, () => gen(budget - 1));
      return r < 0.65 ? kids : Object.fromEntries(kids.map((k, i) => [`k${i}`, k]));
    };
    for (let i = 0; i < 300; i++) {
      const value = gen(12);
      const depth = depthOf(value);
      expect(nestedDeeperThan(value, depth)).toBe(false);
      if (depth > 0) expect(nestedDeeperThan(value, depth - 1)).toBe(true);
      // And the text scan agrees with the parsed walk.
      const text = JSON.stringify(value);
      expect(textNestedDeeperThan(text, depth)).toBe(false);
      if (depth > 0) expect(textNestedDeeperThan(text, depth - 1)).toBe(true);
    }
  });
});

describe('textNestedDeeperThan', () => {
  it('is exact at the limit', () => {
    expect(textNestedDeeperThan(arrays(256), 256)).toBe(false);
    expect(textNestedDeeperThan(arrays(257), 256)).toBe(true);
    expect(textNestedDeeperThan(objects(257), 256)).toBe(true);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ s: '[[[[{{{{', t: 'a\\"[[[', u: '\\\\', v: '"[{' });
    expect(textNestedDeeperThan(text, 1)).toBe(false);
    expect(textNestedDeeperThan(`["\\\\"${',[[1]]'}]`, 2)).toBe(true);
    expect(textNestedDeeperThan(`["\\\\"${',[[1]]'}]`, 3)).toBe(false);
  });

  it('answers for text that is not JSON without failing', () => {
    expect(textNestedDeeperThan('"unterminated [[[[', 1)).toBe(false);
    expect(textNestedDeeperThan(']]]]]][', 1)).toBe(false);
    expect(textNestedDeeperThan('', 0)).toBe(false);
  });
});

describe('MAX_PAYLOAD_DEPTH', () => {
  it('leaves a payload at the limit encodable for an agent, with room for the envelope', () => {
    for (const text of [arrays(MAX_PAYLOAD_DEPTH), objects(MAX_PAYLOAD_DEPTH)]) {
      const message = { t: 'assign', jobs: [{ job: { payload: JSON.parse(text) } }] } as unknown as ServerMessage;
      expect(decodeFrame(encodeFrame([message]))).toEqual([message]);
    }
  });
});
