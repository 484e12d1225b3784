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
  log?: (line: string) => void;
}

/**
 * `npm run bench -- packing --trace FILE`: the trace through the simulator once per policy.
 * Returns one line per policy; logs a table of them.
 */
export async function runPacking(options: PackingOptions): Promise<PackingLine[]> {
  const log = options.log ?? (() => {});
  const trace = await readTrace(options.trace);
  if (options.ignorePriority) for (const job of trace.jobs) job.priority = 'normal';
  log(
    `packing: ${trace.name}, ${trace.jobs.length} jobs (${trace.mode}), ${trace.fleet.agents} agents × ${trace.fleet.gpusPerAgent} GPUs` +
      (options.ignorePriority ? ', priorities ignored' : ''),
  );
  const lines: PackingLine[] = [];
  for (const name of options.policies) {
    const started = performance.now();
    const policy = makePolicy(name, options.placement);
    const line = summarize(simulate(trace, policy), policy.placements);
    lines.push(options.ignorePriority ? { ...line, priorities: 'ignored' } : line);
    log(`${name}: simulated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  log(`\n${table(lines)}`);
  return lines;
}
