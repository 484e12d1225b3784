import type { PoolOptions } from '@baton/agent';
import { poolOptionsProblem } from '@baton/agent';
import type { PriorityClass } from '@baton/core';
import { MAX_MIN_RUNTIME_MS, MAX_PREEMPT_GRACE_MS, PRIORITY_CLASSES } from '@baton/core';
import { CliError } from './cli-error.js';

/** The `baton agent` flags of priority pools and preemption, as commander parsed them. */
export interface PoolFlags {
  priorities?: string;
  preemptible: boolean;
  preemptGraceMs?: number;
  minRuntimeMs?: number;
}

/** Most a `--preempt-grace-ms` / `--min-runtime-ms` may say (the server's limits). */
export const PREEMPT_GRACE_MAX_MS = MAX_PREEMPT_GRACE_MS;
export const MIN_RUNTIME_MAX_MS = MAX_MIN_RUNTIME_MS;

/**
 * The agent's pool options from its flags, or a usage error naming the flag: an unknown or
 * repeated class, an empty list, a dedicated agent that is also preemptible, or a preemption
 * flag without `--preemptible`.
 */
export function poolOptionsFromFlags(flags: PoolFlags): PoolOptions {
  let priorities: PriorityClass[] | undefined;
  if (flags.priorities !== undefined) {
    const listed = flags.priorities
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    if (listed.length === 0)
      throw new CliError(`--priorities must name one or more of ${PRIORITY_CLASSES.join(', ')}`, 2);
    for (const [i, p] of listed.entries()) {
      if (!(PRIORITY_CLASSES as readonly string[]).includes(p))
        throw new CliError(`--priorities: unknown class "${p}": use ${PRIORITY_CLASSES.join(', ')}`, 2);
      if (listed.indexOf(p) !== i) throw new CliError(`--priorities: "${p}" is listed twice`, 2);
    }
    priorities = listed as PriorityClass[];
  }
  if (!flags.preemptible && (flags.preemptGraceMs !== undefined || flags.minRuntimeMs !== undefined)) {
    throw new CliError('--preempt-grace-ms and --min-runtime-ms are for preemptible agents: add --preemptible', 2);
  }
  const options: PoolOptions = {
    ...(priorities !== undefined && { priorities }),
    ...(flags.preemptible && { preemptible: true }),
    ...(flags.preemptGraceMs !== undefined && { preemptGraceMs: flags.preemptGraceMs }),
    ...(flags.minRuntimeMs !== undefined && { minRuntimeMs: flags.minRuntimeMs }),
  };
  // What is left to refuse: a dedicated agent that is also preemptible.
  const problem = poolOptionsProblem(options);
  if (problem) throw new CliError(`--priorities ${flags.priorities} with --preemptible: ${problem}`, 2);
  return options;
}
