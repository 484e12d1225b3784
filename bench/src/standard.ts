import type { BaselineFile, BaselinePoint } from './baseline.js';
import {
  BaselineError,
  COMPARED,
  WARN_RATIO,
  baselinePointOf,
  compareToBaseline,
  currentCommit,
  pointKey,
  readBaseline,
  writeBaseline,
} from './baseline.js';
import type { AgentMode } from './job-timings.js';
import { defaultAgentMode } from './job-timings.js';
import { runLatency } from './latency.js';
import { runThroughput } from './throughput.js';
import type { StandardBackend } from './standard-points.js';
import { freshPlace, unreachable, withoutQuery } from './services.js';

import { STANDARD_LATENCY, STANDARD_THROUGHPUT } from './standard-points.js';

export {
  DEFAULT_POSTGRES,
  DEFAULT_REDIS,
  STANDARD_BACKENDS,
  STANDARD_LATENCY,
  STANDARD_THROUGHPUT,
} from './standard-points.js';
export type { StandardBackend } from './standard-points.js';

export interface StandardOptions {
  backends: readonly StandardBackend[];
  postgres: string;
  redis: string;
  /** Smaller sizes for a smoke run (compared all the same, flagged `baseline_sizes_differ`). */
  jobs: number;
  rate: number;
  seconds: number;
  /** Every point's agent; default the like-for-like rule's (in-process on SQLite, remote on the others). */
  agent?: AgentMode;
  baselineFile: string;
  writeBaseline: boolean;
  timeoutMs: number;
  log(line: string): void;
  /** One JSON line per point (and per skipped backend). */
  emit(line: Record<string, unknown>): void;
}

/** What `standard` did: lines emitted, points that ran (ok or not), and whether all that ran verified. */
export interface StandardOutcome {
  ran: number;
  ok: boolean;
  skipped: StandardBackend[];
}

/**
 * `npm run bench -- standard`: the standard throughput and latency points on each backend, each
 * compared with the baseline file (or written to it with `writeBaseline`).
 */
export async function runStandard(options: StandardOptions): Promise<StandardOutcome> {
  const { log } = options;
  let baseline: BaselineFile | null = null;
  if (options.writeBaseline) {
    baseline = await readBaseline(options.baselineFile).catch((err: unknown) => {
      if (err instanceof BaselineError && !err.message.startsWith('no baseline')) {
        log(`${err.message}: it is replaced`);
      }
      return null;
    });
  } else {
    baseline = await readBaseline(options.baselineFile); // before measuring: a bad file stops the run now
  }
  const commit = currentCommit();
  const measured: Record<string, BaselinePoint> = {};
  const rows: string[][] = [];
  const outcome: StandardOutcome = { ran: 0, ok: true, skipped: [] };
  const date = new Date().toISOString();
  for (const backend of options.backends) {
    const why = await unreachable(backend, options);
    if (why !== null) {
      const url = backend === 'postgres' ? options.postgres : options.redis;
      log(`${backend}: not reachable at ${withoutQuery(url)} (${why}); skipped`);
      options.emit({ system: 'baton', workload: 'standard', backend, skipped: `not reachable: ${why}` });
      outcome.skipped.push(backend);
      continue;
    }
    const agent = options.agent ?? defaultAgentMode(backend === 'sqlite' ? undefined : `${backend}://`);
    for (const workload of ['throughput', 'latency'] as const) {
      const place = freshPlace(backend, options);
      const label = `${workload} ${backend} (${agent} agent)`;
      log(
        `── ${label}: ${workload === 'throughput' ? `${options.jobs} jobs, C=${STANDARD_THROUGHPUT.concurrency}` : `${options.rate}/s for ${options.seconds} s, C=${STANDARD_LATENCY.concurrency}`}`,
      );
      let line: Record<string, unknown>;
      try {
        const common = {
          ...(place.store !== undefined && { store: place.store }),
          agent,
          log: (l: string) => log(`  ${l}`),
        };
        line = {
          ...(workload === 'throughput'
            ? await runThroughput({
                ...common,
                jobs: options.jobs,
                concurrency: STANDARD_THROUGHPUT.concurrency,
                timeoutMs: options.timeoutMs,
              })
            : await runLatency({
                ...common,
                rate: options.rate,
                seconds: options.seconds,
                concurrency: STANDARD_LATENCY.concurrency,
              })),
        };
      } catch (err) {
        log(`  ${label} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        line = {
          system: 'baton',
          backend,
          workload,
          agent,
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        };
      } finally {
        await place.drop().catch((err: unknown) => log(`  could not remove the ${backend} bench data: ${String(err)}`));
      }
      outcome.ran++;
      if (line.ok !== true) outcome.ok = false;
      const compared = compareToBaseline(line, baseline);
      options.emit({ ...line, standard: true, ...compared.fields });
      // A point that ran but did not verify is kept too, marked `"ok": false` (the reference is what
      // this build does); one that threw has no figures to keep.
      if (typeof line.jobs === 'number')
        measured[pointKey(workload, backend, agent)] = baselinePointOf(line, commit, date);
      if (compared.missing && !options.writeBaseline) log(`  no baseline for ${pointKey(workload, backend, agent)}`);
      if (compared.sizesDiffer) log('  the baseline was measured at other sizes: these ratios are not like for like');
      for (const figure of compared.below) {
        log(
          `  warning: ${figure} ${String(line[figure])} against ${String(compared.fields[`${figure}_baseline`])} in the baseline: ratio ${String(compared.fields[`${figure}_ratio`])} < ${WARN_RATIO}`,
        );
      }
      for (const figure of COMPARED[workload]) {
        rows.push([
          workload,
          backend,
          agent,
          figure,
          fmt(line[figure]),
          fmt(compared.fields[`${figure}_baseline`]),
          fmt(compared.fields[`${figure}_ratio`]),
        ]);
      }
    }
  }
  log('');
  for (const row of table([['point', 'backend', 'agent', 'figure', 'now', 'baseline', 'ratio'], ...rows])) log(row);
  log(`ratios: ${'higher is better'} (now/baseline for _per_s, baseline/now for _ms); below ${WARN_RATIO} is flagged`);
  if (outcome.skipped.length > 0) log(`skipped (not reachable): ${outcome.skipped.join(', ')}`);
  if (options.writeBaseline) {
    if (Object.keys(measured).length > 0) {
      await writeBaseline(options.baselineFile, baseline, measured, commit, date);
      log(
        `baseline written to ${options.baselineFile} (${Object.keys(measured).join(', ')}; commit ${commit ?? 'unknown'})`,
      );
    } else log('nothing was measured: the baseline is left as it was');
  }
  return outcome;
}

const fmt = (v: unknown) =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : 2)) : '–';

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) =>
    r.map((cell, c) => (c >= 4 ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0))).join('  '),
  );
}
