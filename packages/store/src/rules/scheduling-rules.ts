import type { PendingRequest } from '../contract.js';

/**
 * pending's requests that ask for something: a limit below 1 asks for nothing, and a
 * fractional one is cut to whole jobs.
 */
export function askedPending(requests: readonly PendingRequest[]): PendingRequest[] {
  const asked: PendingRequest[] = [];
  for (const r of requests) {
    if (r.limit >= 1) asked.push(r.limit === Math.trunc(r.limit) ? r : { ...r, limit: Math.trunc(r.limit) });
  }
  return asked;
}
