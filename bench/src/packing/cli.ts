#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { PolicyName } from './policies.js';
import { POLICY_NAMES } from './policies.js';
import type { TimeLimits } from './run.js';
import { runPacking, TIME_LIMITS } from './run.js';
import { TraceError } from './trace.js';

/**
 * `node bench/dist/packing/cli.js --trace FILE [--policy P] [--ignore-priority] [--time-limits
 * none|exact|x2]`: the packing workload on its own, with the flags of `npm run bench -- packing`
 * plus `--time-limits`. Prints one JSON line per policy on stdout, a table on stderr.
 */

const USAGE = `usage: node bench/dist/packing/cli.js --trace FILE [flags]
  --trace FILE              JSONL trace, e.g. ../shared/traces/gpu-batch-2000.jsonl (required)
  --policy P                ${POLICY_NAMES.join(', ')} or all (default all)
  --ignore-priority         treat every job as priority normal (submit order only)
  --time-limits none|exact|x2
                            jobs' time limits: none (default), their duration, twice it`;

function main(argv: string[]): Promise<number> | number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        trace: { type: 'string' },
        policy: { type: 'string' },
        'ignore-priority': { type: 'boolean' },
        'time-limits': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return usage(null, 0);
  if (values.trace === undefined) return usage('--trace FILE is required');
  const policy = values.policy ?? 'all';
  if (policy !== 'all' && !(POLICY_NAMES as readonly string[]).includes(policy)) {
    return usage(`unknown --policy "${policy}"`);
  }
  const timeLimits = values['time-limits'] ?? 'none';
  if (!(TIME_LIMITS as readonly string[]).includes(timeLimits)) {
    return usage(`--time-limits must be one of ${TIME_LIMITS.join(', ')}, got "${timeLimits}"`);
  }
  return runPacking({
    trace: values.trace,
    policies: policy === 'all' ? [...POLICY_NAMES] : [policy as PolicyName],
    ignorePriority: values['ignore-priority'] ?? false,
    timeLimits: timeLimits as TimeLimits,
    log: (line) => process.stderr.write(`[bench] ${line}\n`),
  }).then(
    (lines) => {
      for (const line of lines) process.stdout.write(`${JSON.stringify(line)}\n`);
      return 0;
    },
    (err: unknown) => {
      if (err instanceof TraceError) return usage(err.message);
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      return 1;
    },
  );
}

function usage(error: string | null, code = 2): number {
  process.stderr.write(`${error === null ? '' : `bench: ${error}\n\n`}${USAGE}\n`);
  return code;
}

void Promise.resolve(main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
