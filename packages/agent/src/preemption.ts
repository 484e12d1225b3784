import type { PriorityClass } from '@baton/core';
import {
  BatonError,
  DEFAULT_MIN_RUNTIME_MS,
  DEFAULT_PREEMPT_GRACE_MS,
  MAX_MIN_RUNTIME_MS,
  MAX_PREEMPT_GRACE_MS,
  PRIORITY_CLASSES,
  isDedicated,
  poolDeclarationProblem,
} from '@baton/core';

/**
 * Priority pools and preemption as the agent sees them: what it declares (the classes it is
 * dedicated to, whether its jobs may be preempted, and how long a preempted job gets to stop),
 * and the abort reason of a preempted job, which carries that grace to the handler and to the
 * `command` task's SIGTERM-then-SIGKILL.
 */

export interface PoolOptions {
  /** Classes the agent takes, when dedicated to some (`--priorities high,normal`). Default: all. */
  priorities?: readonly PriorityClass[];
  /** Running jobs may be preempted for a higher class (`--preemptible`). Default false. */
  preemptible?: boolean;
  /** After a preemption's abort, how long the handler has to stop (ms). Default 30 000. */
  preemptGraceMs?: number;
  /** A job that has run here less than this (ms) is not preempted. Default 60 000. */
  minRuntimeMs?: number;
}

/** What the agent's pool options are wrong about, in words naming the option; null when right. */
export function poolOptionsProblem(o: PoolOptions): string | null {
  const problem = poolDeclarationProblem(o);
  if (problem) return problem;
  const range = (name: string, value: number | undefined, max: number) =>
    value === undefined || (Number.isInteger(value) && value >= 0 && value <= max)
      ? null
      : `${name} must be an integer from 0 to ${max} ms, got ${value}`;
  return (
    range('preemptGraceMs', o.preemptGraceMs, MAX_PREEMPT_GRACE_MS) ??
    range('minRuntimeMs', o.minRuntimeMs, MAX_MIN_RUNTIME_MS) ??
    (!o.preemptible && (o.preemptGraceMs !== undefined || o.minRuntimeMs !== undefined)
      ? 'preemptGraceMs and minRuntimeMs are for a preemptible agent: add preemptible'
      : null)
  );
}

/**
 * The registration's pool fields: only what differs from the defaults, so an agent started
 * without these options registers exactly as before (and with servers that predate them).
 */
export function poolRegistration(o: PoolOptions): {
  priorities?: PriorityClass[];
  preemptible?: boolean;
  preemptGraceMs?: number;
  minRuntimeMs?: number;
} {
  return {
    ...(isDedicated(o.priorities) && { priorities: PRIORITY_CLASSES.filter((p) => o.priorities!.includes(p)) }),
    ...(o.preemptible && {
      preemptible: true,
      preemptGraceMs: o.preemptGraceMs ?? DEFAULT_PREEMPT_GRACE_MS,
      minRuntimeMs: o.minRuntimeMs ?? DEFAULT_MIN_RUNTIME_MS,
    }),
  };
}

/** Why a job was stopped for a higher-class one: retryable, with the agent's grace for it. */
export class PreemptedError extends BatonError {
  constructor(
    message: string,
    readonly graceMs: number,
  ) {
    super('PREEMPTED', message, 409, undefined, true);
  }
}

/** The preemption grace an abort reason carries, or undefined when it is no preemption. */
export function preemptGraceOf(reason: unknown): number | undefined {
  return reason instanceof PreemptedError ? reason.graceMs : undefined;
}
