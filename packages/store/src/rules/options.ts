import { ValidationError } from '@baton/core';
import type { StoreOptions } from '../contract.js';

/** Output kept per job when StoreOptions.logTailBytes is not given: 256 KiB. */
export const DEFAULT_LOG_TAIL_BYTES = 256 * 1024;

/** What every adapter takes from StoreOptions, defaults filled and checked. */
export interface StoreSettings {
  clock: () => number;
  random: () => number;
  logTailBytes: number;
}

/** StoreOptions with defaults: the real clock, Math.random, a 256 KiB tail; a bad tail size is refused. */
export function storeSettings(options: StoreOptions): StoreSettings {
  const logTailBytes = options.logTailBytes ?? DEFAULT_LOG_TAIL_BYTES;
  if (!Number.isSafeInteger(logTailBytes) || logTailBytes < 1) {
    throw new ValidationError(`logTailBytes must be a positive integer, not ${logTailBytes}`);
  }
  return { clock: options.clock ?? Date.now, random: options.random ?? Math.random, logTailBytes };
}
