import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

// Monotonic so ids minted in the same millisecond still sort in creation order (FIFO, cursors).
const nextUlid = monotonicFactory();

/** A new job id: a ULID, lexicographically ordered by creation time. */
export function newJobId(now: number = Date.now()): string {
  return nextUlid(now);
}

/** A new lease token: unguessable, so only the holder of an assignment can report on it. */
export function newLeaseToken(): string {
  return randomBytes(12).toString('base64url');
}

export function newAgentId(): string {
  return `agent-${randomBytes(6).toString('hex')}`;
}
