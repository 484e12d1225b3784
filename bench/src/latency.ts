import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Agent, defineTask } from '@baton/agent';
import type { BenchServer } from './bench-server.js';
import { startBenchServer } from './bench-server.js';
import { percentile, round, sortedCopy } from './stats.js';

export interface LatencyOptions {
  store?: string;
  /** Serve the API without tokens, to measure what authentication costs. */
  noAuth?: boolean;
  /** Single submissions per second. */
  rate: number;
  seconds: number;
  /** The agent's concurrency. Default 10, as the peers. */
  concurrency?: number;
  /** Leading window left out of the figures (JIT, first connections). Default 1 000 ms. */
  warmupMs?: number;
  log?: (line: string) => void;
}

const nowMs = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The latency workload: a producer submits single jobs through the SDK at `rate`/s for
 * `seconds`, while one in-process agent (concurrency 10) runs them. Pickup = handler start −
 * the submission's timestamp; everything in one process, as the throughput workload.
 */
export async function runLatency(options: LatencyOptions): Promise<Record<string, unknown>> {
  const { rate, seconds } = options;
  const concurrency = options.concurrency ?? 10;
  const warmupMs = options.warmupMs ?? 1000;
  const log = options.log ?? (() => {});
  const total = Math.round(rate * seconds);
  const pickup = new Float64Array(total).fill(NaN);
  const e2e = new Float64Array(total).fill(NaN);
  const warm = new Uint8Array(total);
  const sent = new Map<number, number>();
  let processed = 0;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const task = defineTask(
    'bench.latency',
    async (payload: { i: number; t: number }) => {
      const start = nowMs();
      sent.set(payload.i, payload.t);
      pickup[payload.i] = start - payload.t;
      e2e[payload.i] = nowMs() - payload.t;
      if (++processed === total) allDone();
      return null;
    },
    { queue: 'bench' },
  );

  let bench: BenchServer | null = null;
  let agent: Agent | null = null;
  try {
    bench = await startBenchServer(options.store, { noAuth: options.noAuth ?? false });
    const { store, server, url: base, token } = bench;
    agent = new Agent({ link: server.localLink(), tasks: [task], concurrency, name: 'bench' });
    await agent.start();
    log(`latency baton rate=${rate}/s for ${seconds}s c=${concurrency} store=${options.store ?? 'sqlite:(temp file)'}`);
    // The producer runs in its own process, as the peers' does, so its HTTP client does not
    // share this event loop with the server and agent being measured.
    const producer = fork(
      fileURLToPath(new URL('./latency-producer.js', import.meta.url)),
      [base, String(rate), String(seconds), task.name],
      { env: { ...process.env, BATON_TOKEN: token } },
    );
    const summary = await new Promise<{ acked: number; errors: number; firstError: string | null }>(
      (resolve, reject) => {
        producer.once('message', (m) => resolve(m as { acked: number; errors: number; firstError: string | null }));
        producer.once('exit', (code) => reject(new Error(`producer exited with ${code} before reporting`)));
      },
    );
    producer.kill();
    await Promise.race([done, sleep(10_000)]); // the last jobs, if any are still running
    const acked = summary.acked;
    const errors = summary.errors;
    if (summary.firstError) log(`producer error: ${summary.firstError}`);
    let firstT = Infinity;
    for (const t of sent.values()) firstT = Math.min(firstT, t);
    for (const [i, t] of sent) if (t - firstT < warmupMs) warm[i] = 1;
    const measured = (values: Float64Array) => sortedCopy(values.filter((v, i) => !warm[i] && !Number.isNaN(v)));
    const p = measured(pickup);
    const e = measured(e2e);
    return {
      system: 'baton',
      backend: store.backend,
      workload: 'latency',
      jobs: total,
      concurrency,
      rate,
      seconds,
      enqueue_acked: acked,
      enqueue_errors: errors,
      processed,
      pickup_p50_ms: round(percentile(p, 50)),
      pickup_p95_ms: round(percentile(p, 95)),
      pickup_p99_ms: round(percentile(p, 99)),
      pickup_max_ms: round(p.length ? (p[p.length - 1] as number) : null),
      e2e_p50_ms: round(percentile(e, 50)),
      e2e_p99_ms: round(percentile(e, 99)),
      rss_mb: round(process.memoryUsage.rss() / 1024 / 1024, 1),
      ok: processed === total && errors === 0,
    };
  } finally {
    await agent?.stop(1000).catch((err: unknown) => log(`agent stop failed: ${String(err)}`));
    await bench?.close(log);
  }
}
