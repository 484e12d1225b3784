import type { PlacementOptions } from '@baton/core';
import type { PolicyName } from './policies.js';
import type { PackingLine } from './report.js';
import { makePolicy } from './policies.js';
import { summarize, table } from './report.js';
import { simulate } from './simulator.js';
import { readTrace } from './trace.js';

export interface PackingOptions {
  /** Path of a JSONL trace (`shared/traces/*.jsonl`). */
  trace: string;
  /** Policies to run, in this order. */
  policies: readonly PolicyName[];
  /** Options for Baton's `place()` (default: its defaults). */
  placement?: PlacementOptions;
  /**
   * Treat every job as priority `normal`, so order is submit order alone: the conditions under
   * which the reference figures of shared/BENCHMARKS.md were taken.
   */
  ignorePriority?: boolean;
  /**
   * Jobs' time limits: `none` (default: no job has one), `exact` (each job's limit is its
   * duration) or `x2` (twice its duration: a padded estimate, the realistic case). Baton's
   * policy uses them; the baselines ignore them.
   */
  timeLimits?: TimeLimits;
  log?: (line: string) => void;
}

export const TIME_LIMITS = ['none', 'exact', 'x2'] as const;
export type TimeLimits = (typeof TIME_LIMITS)[number];

/**
 * `npm run bench -- packing --trace FILE`: the trace through the simulator once per policy.
 * Returns one line per policy; logs a table of them.
 */
export async function runPacking(options: PackingOptions): Promise<PackingLine[]> {
  const log = options.log ?? (() => {});
  const trace = await readTrace(options.trace);
  if (options.ignorePriority) for (const job of trace.jobs) job.priority = 'normal';
  const timeLimits = options.timeLimits ?? 'none';
  if (timeLimits !== 'none') {
    const factor = timeLimits === 'exact' ? 1 : 2;
    for (const job of trace.jobs) job.timeLimitS = job.durationS * factor;
  }
  log(
    `packing: ${trace.name}, ${trace.jobs.length} jobs (${trace.mode}), ${trace.fleet.agents} agents × ${trace.fleet.gpusPerAgent} GPUs` +
      (options.ignorePriority ? ', priorities ignored' : '') +
      `, time limits ${timeLimits}`,
  );
  const lines: PackingLine[] = [];
  for (const name of options.policies) {
    const started = performance.now();
    const policy = makePolicy(name, options.placement, timeLimits !== 'none');
    const line = { ...summarize(simulate(trace, policy), policy.placements), time_limits: timeLimits };
    lines.push(options.ignorePriority ? { ...line, priorities: 'ignored' } : line);
    log(`${name}: simulated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  log(`\n${table(lines)}`);
  return lines;
}
