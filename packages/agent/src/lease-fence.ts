import type { RegisteredAgent } from '@baton/core';
import type { AnyTaskDefinition, TaskLogger } from './task.js';

/**
 * When an agent stops a job whose lease it cannot confirm (self-fencing). A job must be gone
 * before the server may requeue it, which is its last confirmation plus the lease: so it is
 * stopped a margin earlier, the time its task takes to stop (a command's kill grace) plus one
 * heartbeat interval (a round that is late, timers that fire late, the store's expiry sweep).
 */
export interface FencePlan {
  /** Stop the job this long after its lease was last confirmed. */
  fenceAfterMs: number;
  /** Whether the lease is too short for the margin: the job may outlive its lease. */
  cramped: boolean;
  /** With `cramped`: by how much the job may outlive its lease at worst. */
  overrunMs: number;
  /** The shortest lease that leaves room for the margin with this heartbeat. */
  leaseNeededMs: number;
}

/**
 * The plan for a task that takes `stopMs` to stop. Never earlier than a heartbeat interval and
 * a half after the last confirmation (a healthy job is confirmed every interval; earlier would
 * stop jobs whose answer is merely a little late), never later than the lease itself.
 */
export function fencePlan(leaseMs: number, heartbeatMs: number, stopMs: number): FencePlan {
  const ideal = leaseMs - stopMs - heartbeatMs;
  const floor = Math.ceil(heartbeatMs * 1.5);
  const fenceAfterMs = Math.min(leaseMs, Math.max(ideal, floor));
  const cramped = ideal < floor;
  return {
    fenceAfterMs,
    cramped,
    overrunMs: Math.max(0, fenceAfterMs + stopMs - leaseMs),
    leaseNeededMs: floor + stopMs + heartbeatMs,
  };
}

/**
 * Says at start-up when the server's lease leaves no room to stop a task's jobs before it
 * lapses (its stop grace plus a heartbeat): a cut-off agent may then run such a job beside
 * its replacement for a while.
 */
export function warnCrampedLeases(
  tasks: Iterable<AnyTaskDefinition>,
  { leaseMs, heartbeatMs }: Pick<RegisteredAgent, 'leaseMs' | 'heartbeatMs'>,
  logger: TaskLogger,
): void {
  for (const task of tasks) {
    const stopMs = task.stopGraceMs ?? task.abortGraceMs ?? 0;
    const plan = fencePlan(leaseMs, heartbeatMs, stopMs);
    if (!plan.cramped) continue;
    logger.warn(
      { task: task.name, leaseMs, heartbeatMs, stopGraceMs: stopMs, ...plan },
      `the server's lease (${leaseMs} ms) is too short to stop "${task.name}" jobs ` +
        `(${stopMs} ms to stop, plus a ${heartbeatMs} ms heartbeat) before it lapses: a job whose lease ` +
        `cannot be confirmed is stopped ${plan.fenceAfterMs} ms after its last confirmation and may run up to ` +
        `${plan.overrunMs} ms past its lease, beside its retry; give the server a lease of at least ` +
        `${plan.leaseNeededMs} ms (with this heartbeat)`,
    );
  }
}
