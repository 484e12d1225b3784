import { RUNTIME_KEY_MAX_LENGTH, RUNTIME_SAMPLES_KEPT, ValidationError } from '@baton/core';
import type { RuntimeSample } from '../runtime-samples.js';
import { MAX_RUNTIME_KEYS_READ } from '../runtime-samples.js';

/** Control characters: PostgreSQL text cannot hold NUL, and no class key needs any of them. */
const CONTROL_CHARACTER = /\p{Cc}/u;

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '')
    throw new ValidationError('a runtime class key must be a non-empty string');
  if (key.length > RUNTIME_KEY_MAX_LENGTH) {
    throw new ValidationError(`a runtime class key is longer than ${RUNTIME_KEY_MAX_LENGTH} characters`);
  }
  if (CONTROL_CHARACTER.test(key)) throw new ValidationError('a runtime class key must not hold control characters');
}

/**
 * What a `recordRuntimes` call adds, per class: validated whole before anything is written (one
 * bad sample records nothing), rounded to whole ms, newest first (the last given is the newest),
 * and cut to the newest {@link RUNTIME_SAMPLES_KEPT}, so a backend prepends each list as it is
 * and cuts the result to the same number.
 */
export function runtimesToRecord(samples: readonly RuntimeSample[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const sample of samples) {
    checkKey(sample?.key);
    const ms = sample.runtimeMs;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
      throw new ValidationError(`a runtime must be a finite number of ms ≥ 0, not ${String(ms)}`);
    }
    let list = byKey.get(sample.key);
    if (!list) byKey.set(sample.key, (list = []));
    list.push(Math.round(ms));
  }
  for (const list of byKey.values()) {
    list.reverse();
    if (list.length > RUNTIME_SAMPLES_KEPT) list.length = RUNTIME_SAMPLES_KEPT;
  }
  return byKey;
}

/** The distinct keys a `runtimeSamples` call reads, checked. */
export function runtimeKeysToRead(keys: readonly string[]): string[] {
  if (!Array.isArray(keys)) throw new ValidationError('runtimeSamples takes an array of keys');
  const distinct = [...new Set(keys)];
  if (distinct.length > MAX_RUNTIME_KEYS_READ) {
    throw new ValidationError(`runtimeSamples reads at most ${MAX_RUNTIME_KEYS_READ} keys a call`);
  }
  for (const key of distinct) checkKey(key);
  return distinct;
}

/** Checks a `runtimeClasses` page request. */
export function checkRuntimeClassPage(after: string | null, limit: number): void {
  if (after !== null) checkKey(after);
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError(`runtimeClasses needs a positive integer limit, not ${limit}`);
  }
}

/** A stored list as readers get it: newest first, never more than the cap. */
export function keptRuntimes(stored: readonly (number | string)[]): number[] {
  return stored.slice(0, RUNTIME_SAMPLES_KEPT).map(Number);
}
