#!/usr/bin/env node
import { BatonError } from '@baton/core';
import { TraceError } from './packing/trace.js';
import { SuiteError } from './packing/suite-run.js';
import type { Parsed } from './args.js';
import { parse } from './args.js';
import { BaselineError } from './baseline.js';
import type { StandardBackend } from './standard-points.js';
import { STANDARD_BACKENDS } from './standard-points.js';
import { UsageError } from './flags.js';
import { USAGE } from './usage.js';
import type { Workload } from './usage.js';

/**
 * `npm run bench -- WORKLOAD [flags]`: runs one of Baton's benchmarks and prints one JSON line
 * per run on stdout (the format of shared/BENCHMARKS.md). Progress goes to stderr.
 */

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** What one run of a workload printed: its JSON lines, and whether it verified. */
interface RunOutcome {
  lines: object[];
  ok: boolean;
}

const storeOf = (args: Parsed) => ({ ...(args.store !== undefined && { store: args.store }), noAuth: args.noAuth });

/**
 * How each workload runs once; add a workload here, to WORKLOADS, USAGE and `parse`. Each loads
 * its module when it runs, so a usage error or `--help` answers without loading every workload's
 * dependencies (the peers' clients, the server).
 */
const RUNNERS: Record<Workload, (args: Parsed) => Promise<RunOutcome>> = {
  throughput: async (args) => {
    const { runThroughput } = await import('./throughput.js');
    const result = await runThroughput({
      ...storeOf(args),
      jobs: args.jobs,
      concurrency: args.concurrency,
      chunkSize: args.chunk,
      ...(args.agent && { agent: args.agent }),
      timeoutMs: args.timeoutS * 1000,
      log,
    });
    return { lines: [result], ok: result.ok };
  },
  latency: async (args) => {
    const { runLatency } = await import('./latency.js');
    const result = await runLatency({
      ...storeOf(args),
      rate: args.rate,
      seconds: args.seconds,
      concurrency: args.concurrency,
      ...(args.agent && { agent: args.agent }),
      log,
    });
    return { lines: [result], ok: Boolean(result.ok) };
  },
  api: async (args) => {
    const { describeApi, runApi } = await import('./api.js');
    const lines = await runApi({
      ...(args.store !== undefined && { store: args.store }),
      clients: args.clients,
      seconds: args.seconds,
      peer: args.peer,
      agent: process.env.BENCH_API_AGENT === 'none' ? 'none' : 'process',
      log,
    });
    for (const line of describeApi(lines)) log(line);
    return { lines, ok: lines.every((line) => line.ok === true) };
  },
  standard: async (args) => {
    const { runStandard } = await import('./standard.js');
    const outcome = await runStandard({
      backends: (args.only as StandardBackend[] | undefined) ?? STANDARD_BACKENDS,
      postgres: args.postgres,
      redis: args.redis,
      jobs: args.jobs,
      rate: args.rate,
      seconds: args.seconds,
      ...(args.agent && { agent: args.agent }),
      baselineFile: args.baselineFile,
      writeBaseline: args.writeBaseline,
      timeoutMs: args.timeoutS * 1000,
      log,
      emit: (line) => process.stdout.write(`${JSON.stringify(line)}\n`),
    });
    if (outcome.ran === 0) log('nothing ran: no backend was reachable');
    return { lines: [], ok: outcome.ran > 0 && outcome.ok };
  },
  packing: async (args) => {
    if (args.suite) {
      const { runSuite } = await import('./packing/suite-run.js');
      const { lines } = await runSuite({
        ...(args.only && { only: args.only }),
        ...(args.priorities && { priorities: args.priorities }),
        ...(args.writeTraces !== undefined && { writeTraces: args.writeTraces }),
        log,
      });
      return { lines, ok: true };
    }
    const { runPacking } = await import('./packing/run.js');
    const lines = await runPacking({
      trace: args.trace!,
      policies: args.policies,
      ignorePriority: args.ignorePriority,
      timeLimits: args.timeLimits,
      halfLifeS: args.halfLifeS,
      weights: args.weights,
      fairWindowS: args.fairWindowS,
      log,
    });
    return { lines, ok: true };
  },
  failover: async (args) => {
    const { runFailover } = await import('./failover.js');
    const result = await runFailover({
      ...storeOf(args),
      jobs: args.jobs,
      agents: args.agents,
      ...(args.leaseMs !== undefined && { leaseMs: args.leaseMs }),
      timeoutMs: args.timeoutS * 1000,
      log,
    });
    return { lines: [result], ok: result.ok };
  },
  workflows: async (args) => {
    const { runWorkflowBench } = await import('./workflows.js');
    const result = await runWorkflowBench({
      ...storeOf(args),
      workflows: args.workflows,
      steps: args.steps,
      fanOut: args.fanOut,
      concurrency: args.concurrency,
      timeoutMs: args.timeoutS * 1000,
      log,
    });
    return { lines: [result], ok: result.ok };
  },
  autoscale: async (args) => {
    const { runAutoscale } = await import('./autoscale.js');
    const result = await runAutoscale({
      jobs: args.jobs,
      jobMs: args.jobMs,
      max: args.max,
      slots: args.slots,
      cooldownS: args.cooldownS,
      syncS: args.syncS,
      timeoutMs: args.timeoutS * 1000,
      log,
    });
    return { lines: [result], ok: result.ok };
  },
  events: async (args) => {
    const { describeEvents, runEvents } = await import('./events.js');
    const result = await runEvents({
      ...(args.store !== undefined && { store: args.store }),
      clients: args.clients,
      rate: args.rate,
      seconds: args.seconds,
      markerRate: args.markerRate,
      concurrency: args.concurrency,
      baseline: args.baseline,
      maxInFlight: args.maxInFlight,
      timeoutMs: args.timeoutS * 1000,
      log,
    });
    for (const line of describeEvents(result)) log(line);
    return { lines: [result], ok: Boolean(result.ok) };
  },
  scheduler: async (args) => {
    const { runScheduler, runSchedulerScaling } = await import('./scheduler.js');
    const lines = args.scaling
      ? runSchedulerScaling({ seed: args.seed, log })
      : [runScheduler({ agents: args.agents, jobs: args.jobs, seed: args.seed, log }).line];
    return { lines, ok: lines.every((line) => line.ok) };
  },
};

async function main(argv: string[]): Promise<number> {
  let args: Parsed | 'help';
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  let failures = 0;
  for (let run = 1; run <= args.repeat; run++) {
    if (args.repeat > 1) log(`run ${run}/${args.repeat}`);
    try {
      const outcome = await RUNNERS[args.workload](args);
      if (!outcome.ok) failures++;
      for (const line of outcome.lines) process.stdout.write(`${JSON.stringify(line)}\n`);
    } catch (err) {
      if (err instanceof BatonError && err.code === 'INVALID_STORE_URL') {
        process.stderr.write(`bench: --store: ${err.message}\n`);
        return 2;
      }
      if (err instanceof BaselineError) {
        process.stderr.write(`bench: ${err.message}\n`);
        return 2;
      }
      if (err instanceof SuiteError) {
        process.stderr.write(`bench: --only: ${err.message}\n`);
        return 2;
      }
      if (err instanceof TraceError) {
        process.stderr.write(`bench: --trace: ${err.message}\n`);
        return 2;
      }
      failures++;
      log(`run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.stdout.write(
        `${JSON.stringify({
          system: 'baton',
          workload: args.workload,
          ...(args.workload === 'packing' ? { trace: args.trace } : { jobs: args.jobs, concurrency: args.concurrency }),
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        })}\n`,
      );
    }
  }
  return failures > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
