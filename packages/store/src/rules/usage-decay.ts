import { ValidationError } from '@baton/core';
import type { OwnerUsageUnits } from '../fair-share.js';

/** Usage that decayed below this reads as none: `usage` may leave such owners out. */
export const USAGE_FLOOR = 1e-6;

/**
 * `units` stored at `at` as it reads at `now` (both store-clock epoch ms): halved every
 * `halfLifeMs`. A stored time ahead of `now` (another server's clock a little ahead) reads
 * undecayed rather than grown, so usage never inflates.
 */
export function decayed(units: number, at: number, now: number, halfLifeMs: number): number {
  const elapsed = Math.max(0, now - at);
  return units * 2 ** (-elapsed / halfLifeMs);
}

/** Refuses a half-life that is not a positive integer of ms (`usage` and `addUsage`). */
export function checkHalfLife(halfLifeMs: number): void {
  if (!Number.isSafeInteger(halfLifeMs) || halfLifeMs <= 0) {
    throw new ValidationError(`halfLifeMs must be a positive integer of ms, not ${halfLifeMs}`);
  }
}

/**
 * What an `addUsage` call adds, per owner: validated whole before anything is written (one bad
 * entry adds nothing), zero entries skipped, and an owner named twice summed, so a backend
 * writes each owner once in its atomic step.
 */
export function usageToAdd(entries: OwnerUsageUnits[], halfLifeMs: number): Map<string, number> {
  checkHalfLife(halfLifeMs);
  const byOwner = new Map<string, number>();
  for (const { owner, units } of entries) {
    if (typeof owner !== 'string' || owner === '') {
      throw new ValidationError('every usage entry needs an owner');
    }
    if (typeof units !== 'number' || !Number.isFinite(units) || units < 0) {
      throw new ValidationError(`units of ${owner} must be a finite number ≥ 0, not ${units}`);
    }
    if (units === 0) continue;
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + units);
  }
  return byOwner;
}
