import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, defineTask } from '@baton/agent';
import type { BenchServer } from './bench-server.js';
import { startBenchServer } from './bench-server.js';
import type { AgentMode, TimedPayload } from './job-timings.js';
import { BENCH_QUEUE, LATENCY_TASK, TimingRecorder, defaultAgentMode, noopHandler, perJob } from './job-timings.js';
import type { RemoteAgent } from './remote-agent.js';
import { startRemoteAgent } from './remote-agent.js';
import { percentile, round, sortedCopy } from './stats.js';
import { atMost } from './waits.js';

export interface LatencyOptions {
  store?: string;
  /** Serve the API without tokens, to measure what authentication costs. */
  noAuth?: boolean;
  /** Single submissions per second. */
  rate: number;
  seconds: number;
  /** The agent's concurrency. Default 10, as the peers. */
  concurrency?: number;
  /** `in-process` or `remote` (a `baton agent` process). Default: remote on PostgreSQL and Redis, else in-process. */
  agent?: AgentMode;
  /** Leading window left out of the figures (JIT, first connections). Default 1 000 ms. */
  warmupMs?: number;
  log?: (line: string) => void;
}

/**
 * The latency workload: a producer process submits single jobs through the SDK at `rate`/s
 * for `seconds`, while one agent (concurrency 10) runs them, in this process or a `baton agent`
 * process. Pickup = handler start − the submission's timestamp.
 */
export async function runLatency(options: LatencyOptions): Promise<Record<string, unknown>> {
  const { rate, seconds } = options;
  const concurrency = options.concurrency ?? 10;
  const warmupMs = options.warmupMs ?? 1000;
  const log = options.log ?? (() => {});
  const mode = options.agent ?? defaultAgentMode(options.store);
  const total = Math.round(rate * seconds);
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const recorder = new TimingRecorder(total, () => allDone());
  const task = defineTask<TimedPayload, null>(LATENCY_TASK, noopHandler(recorder), { queue: BENCH_QUEUE });

  let bench: BenchServer | null = null;
  let agent: Agent | null = null;
  let remote: RemoteAgent | null = null;
  try {
    bench = await startBenchServer(options.store, { noAuth: options.noAuth ?? false, remoteAgents: mode === 'remote' });
    const { store, server, url: base, token } = bench;
    if (mode === 'in-process') {
      agent = new Agent({ link: server.localLink(), tasks: [task], concurrency, name: 'bench' });
      await agent.start();
    } else {
      remote = await startRemoteAgent({
        url: base,
        agentToken: bench.agentToken as string,
        concurrency,
        expected: total,
      });
      await remote.connect();
    }
    log(
      `latency baton rate=${rate}/s for ${seconds}s c=${concurrency} agent=${mode}${remote ? ` (pid ${remote.pid})` : ''} store=${options.store ?? 'sqlite:(temp file)'}`,
    );
    // The producer runs in its own process, as the peers' does, so its HTTP client does not
    // share this event loop with the server and agent being measured.
    const producer = fork(
      fileURLToPath(new URL('./latency-producer.js', import.meta.url)),
      [base, String(rate), String(seconds), task.name],
      { env: { ...process.env, BATON_TOKEN: token } },
    );
    type Summary = { acked: number; errors: number; firstError: string | null; sent: number[] };
    const summary = await new Promise<Summary>((resolve, reject) => {
      producer.once('message', (m) => resolve(m as Summary));
      producer.once('exit', (code) => reject(new Error(`producer exited with ${code} before reporting`)));
    });
    producer.kill();
    // The last jobs, if any are still running (a remote agent's ending with its process is an error).
    await atMost(remote?.handled ?? done, 10_000);
    // A job that has not started by now counts as starting now (BENCHMARKS.md): a backlog shows.
    const runEnd = performance.timeOrigin + performance.now();
    const acked = summary.acked;
    const errors = summary.errors;
    if (summary.firstError) log(`producer error: ${summary.firstError}`);
    const report = remote ? await remote.report() : null;
    const timings = report?.timings ?? recorder.timings;
    const jobs = perJob(timings, total);
    const pickup = new Float64Array(total).fill(NaN);
    const e2e = new Float64Array(total).fill(NaN);
    const warm = new Uint8Array(total);
    let firstT = Infinity;
    let neverStarted = 0;
    for (let i = 0; i < total; i++) {
      const sentAt = summary.sent[i] ?? 0;
      if (jobs.start[i] === 0) {
        if (sentAt === 0) continue;
        neverStarted++;
        firstT = Math.min(firstT, sentAt);
        pickup[i] = runEnd - sentAt;
        e2e[i] = runEnd - sentAt;
        continue;
      }
      firstT = Math.min(firstT, jobs.enq[i] as number);
      pickup[i] = (jobs.start[i] as number) - (jobs.enq[i] as number);
      e2e[i] = (jobs.end[i] as number) - (jobs.enq[i] as number);
    }
    for (let i = 0; i < total; i++) {
      const at = jobs.start[i] !== 0 ? (jobs.enq[i] as number) : (summary.sent[i] ?? 0);
      if (at !== 0 && at - firstT < warmupMs) warm[i] = 1;
    }
    const measured = (values: Float64Array) => sortedCopy(values.filter((v, i) => !warm[i] && !Number.isNaN(v)));
    const p = measured(pickup);
    const e = measured(e2e);
    const processed = jobs.distinct;
    return {
      system: 'baton',
      backend: store.backend,
      workload: 'latency',
      agent: mode,
      jobs: total,
      concurrency,
      rate,
      seconds,
      enqueue_acked: acked,
      enqueue_errors: errors,
      processed,
      never_started: neverStarted,
      duplicates: jobs.duplicates,
      pickup_p50_ms: round(percentile(p, 50)),
      pickup_p95_ms: round(percentile(p, 95)),
      pickup_p99_ms: round(percentile(p, 99)),
      pickup_max_ms: round(p.length ? (p[p.length - 1] as number) : null),
      e2e_p50_ms: round(percentile(e, 50)),
      e2e_p99_ms: round(percentile(e, 99)),
      rss_mb: round(process.memoryUsage.rss() / 1024 / 1024, 1),
      ...(report && { agent_cpu_ms: round(report.cpuMs, 0), agent_rss_mb: round(report.rssMb, 1) }),
      ok: processed === total && errors === 0 && jobs.duplicates === 0 && jobs.invalid === 0,
    };
  } finally {
    await agent?.stop(1000).catch((err: unknown) => log(`agent stop failed: ${String(err)}`));
    await remote?.stop();
    await bench?.close(log);
  }
}
