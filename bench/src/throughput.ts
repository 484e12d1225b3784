import { Agent, defineTask } from '@baton/agent';
import { BatonClient } from '@baton/client';
import type { BenchServer } from './bench-server.js';
import { startBenchServer } from './bench-server.js';
import type { Store } from '@baton/store';
import type { AgentMode, TimedPayload } from './job-timings.js';
import { BENCH_QUEUE, NOOP_TASK, TimingRecorder, defaultAgentMode, noopHandler, nowMs, perJob } from './job-timings.js';
import type { RemoteAgent } from './remote-agent.js';
import { startRemoteAgent } from './remote-agent.js';
import { percentile, round, sortedCopy } from './stats.js';
import { sleep } from './waits.js';

export const THROUGHPUT_TASK = NOOP_TASK;
export const THROUGHPUT_QUEUE = BENCH_QUEUE;

export interface ThroughputOptions {
  /** Store URL. Absent (or `sqlite:`): a fresh SQLite file in a temp folder, removed afterwards. */
  store?: string;
  /** Serve the API without tokens, to measure what authentication costs. */
  noAuth?: boolean;
  /** Jobs to enqueue and process. */
  jobs: number;
  /** The agent's concurrency. */
  concurrency: number;
  /**
   * Where the jobs run: `in-process` (an `Agent` on the server's in-process link) or `remote`
   * (a `baton agent` process over WebSocket). Default: remote on PostgreSQL and Redis, else in-process.
   */
  agent?: AgentMode;
  /** Jobs per bulk request (the SDK's `submitMany`). Default 1 000. */
  chunkSize?: number;
  /** Overall limit; the run fails past it. Default 300 000 ms. */
  timeoutMs?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

/** One run, in the BENCHMARKS.md format (the first fields), then diagnostics. */
export interface ThroughputResult {
  system: 'baton';
  backend: Store['backend'];
  workload: 'throughput';
  agent: AgentMode;
  jobs: number;
  concurrency: number;
  enqueue_per_s: number | null;
  process_per_s: number | null;
  e2e_p50_ms: number | null;
  e2e_p99_ms: number | null;
  pickup_p50_ms: number | null;
  pickup_p95_ms: number | null;
  pickup_p99_ms: number | null;
  /** Peak RSS of the bench's process (store + server + producer, and the agent when in process) during the run, sampled. */
  rss_mb: number | null;
  enqueue_ms: number | null;
  /** First handler start → last handler end. */
  process_ms: number | null;
  e2e_max_ms: number | null;
  /** Last handler end → the store counts all N succeeded. */
  settle_ms: number | null;
  /** N / (first handler start → the store counts all N succeeded): completions durably recorded. */
  stored_per_s: number | null;
  /**
   * User + system CPU of the bench's process (store, server, and the agent when in process) from
   * the agent's start until the store counts all N succeeded.
   */
  process_cpu_ms: number | null;
  /** Remote agent: its process's CPU from its first handler start until the store counts all N succeeded. */
  agent_cpu_ms?: number | null;
  /** Remote agent: its process's peak RSS. */
  agent_rss_mb?: number | null;
  /** Distinct jobs whose handler ran. */
  processed: number;
  /** Handler runs beyond the first for a job (must be 0). */
  duplicates: number;
  /** Jobs of this run in state `succeeded` in the store at the end. */
  succeeded: number;
  failed: number;
  ok: boolean;
  error?: string;
}

/**
 * The throughput workload: N no-op jobs submitted through the SDK in bulk, then drained by
 * one agent at concurrency C. This process holds the store, HTTP server, scheduler and
 * producer, and the agent too when `in-process`; a `remote` agent is a `baton agent` process.
 */
export async function runThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const N = options.jobs;
  const C = options.concurrency;
  const chunkSize = options.chunkSize ?? 1000;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const log = options.log ?? (() => {});
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`jobs must be a positive integer, got ${N}`);
  if (!Number.isInteger(C) || C < 1) throw new RangeError(`concurrency must be a positive integer, got ${C}`);
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  const deadline = Date.now() + timeoutMs;

  const mode = options.agent ?? defaultAgentMode(options.store);
  let allHandled: () => void = () => {};
  const handled = new Promise<void>((resolve) => (allHandled = resolve));
  // The in-process agent's handlers record here; a remote agent's in its own process (agent-tasks.ts).
  const recorder = new TimingRecorder(N, () => allHandled());
  const noop = defineTask<TimedPayload, null>(THROUGHPUT_TASK, noopHandler(recorder), { queue: THROUGHPUT_QUEUE });

  let rssPeak = process.memoryUsage.rss();
  const rssTimer = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 100);
  rssTimer.unref();

  let bench: BenchServer | null = null;
  let agent: Agent | null = null;
  let remote: RemoteAgent | null = null;
  try {
    bench = await startBenchServer(options.store, { noAuth: options.noAuth ?? false, remoteAgents: mode === 'remote' });
    const { store, server, url, token } = bench;
    // The API takes jobs only for tasks some agent announced; announce ours before the agent starts.
    await store.registerTasks([{ task: THROUGHPUT_TASK, queue: THROUGHPUT_QUEUE }]);
    const before = await counts(store);
    if (mode === 'in-process') {
      agent = new Agent({ link: server.localLink(), tasks: [noop], concurrency: C, name: 'bench' });
    }
    // A remote agent's process is started and loaded now, and connects after the enqueue, when
    // the in-process one starts: neither's start-up is in the figures.
    if (mode === 'remote') {
      remote = await startRemoteAgent({ url, agentToken: bench.agentToken as string, concurrency: C, expected: N });
    }
    const client = new BatonClient({ baseUrl: url, token });
    log(`throughput baton n=${N} c=${C} agent=${mode} store=${options.store ?? 'sqlite:(temp file)'} api=${url}`);

    // ---- enqueue: one bulk submission per chunk, each chunk stamped just before its call ----
    const tE0 = nowMs();
    let created = 0;
    for (let start = 0; start < N; start += chunkSize) {
      if (Date.now() > deadline) throw new Error(`timed out while enqueueing (${start}/${N} submitted)`);
      const end = Math.min(N, start + chunkSize);
      const t = nowMs();
      const jobs = new Array<{ task: string; queue: string; payload: TimedPayload }>(end - start);
      for (let i = start; i < end; i++)
        jobs[i - start] = { task: THROUGHPUT_TASK, queue: THROUGHPUT_QUEUE, payload: { i, t } };
      const results = await client.submitMany(jobs, { chunkSize });
      for (const r of results) if (r.created) created++;
    }
    const tE1 = nowMs();
    if (created !== N) throw new Error(`the API created ${created} of ${N} jobs`);
    const enqueueMs = tE1 - tE0;
    log(`enqueued ${N} in ${enqueueMs.toFixed(0)} ms (${(N / (enqueueMs / 1000)).toFixed(0)}/s)`);

    // ---- process: start the agent, wait until every handler ran, then until the store agrees ----
    const cpu0 = process.cpuUsage();
    if (agent) await agent.start();
    else {
      await remote?.connect();
      log(`agent process ${remote?.pid} connected over WebSocket`);
    }
    const left = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, left))),
    );
    const outcome = await Promise.race([(remote?.handled ?? handled).then(() => 'done' as const), timedOut]).finally(
      () => clearTimeout(timer),
    );
    if (outcome === 'timeout') {
      const ran = remote ? 'some' : String(recorder.distinct);
      throw new Error(`timed out with ${ran}/${N} jobs processed`);
    }
    log(`processed ${N}; waiting for the store to record them`);

    let after = await counts(store);
    while (after.succeeded - before.succeeded + (after.failed - before.failed) < N) {
      if (Date.now() > deadline) break;
      await sleep(2);
      after = await counts(store);
    }
    const tStored = nowMs();
    const cpu = process.cpuUsage(cpu0);
    const succeeded = after.succeeded - before.succeeded;
    const failed = after.failed - before.failed;
    const report = remote ? await remote.report() : null;
    const { enq, start, end, distinct, duplicates, invalid, firstStart, lastEnd } = perJob(
      report?.timings ?? recorder.timings,
      N,
    );

    const e2e = new Float64Array(N);
    const pickup = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      e2e[i] = (end[i] as number) - (enq[i] as number);
      pickup[i] = (start[i] as number) - (enq[i] as number);
    }
    const e2eSorted = sortedCopy(e2e);
    const pickupSorted = sortedCopy(pickup);
    const processMs = lastEnd - firstStart;
    const ok = distinct === N && duplicates === 0 && invalid === 0 && succeeded === N && failed === 0;
    const result: ThroughputResult = {
      system: 'baton',
      backend: store.backend,
      workload: 'throughput',
      agent: mode,
      jobs: N,
      concurrency: C,
      enqueue_per_s: round(N / (enqueueMs / 1000), 1),
      process_per_s: processMs > 0 ? round(N / (processMs / 1000), 1) : null,
      e2e_p50_ms: round(percentile(e2eSorted, 50)),
      e2e_p99_ms: round(percentile(e2eSorted, 99)),
      pickup_p50_ms: round(percentile(pickupSorted, 50)),
      pickup_p95_ms: round(percentile(pickupSorted, 95)),
      pickup_p99_ms: round(percentile(pickupSorted, 99)),
      rss_mb: round((rssPeak = Math.max(rssPeak, process.memoryUsage.rss())) / (1024 * 1024), 1),
      enqueue_ms: round(enqueueMs),
      process_ms: round(processMs),
      e2e_max_ms: round(e2eSorted[N - 1] ?? null),
      settle_ms: round(Math.max(0, tStored - lastEnd)),
      stored_per_s: round(N / ((tStored - firstStart) / 1000), 1),
      process_cpu_ms: round((cpu.user + cpu.system) / 1000, 0),
      ...(report && { agent_cpu_ms: round(report.cpuMs, 0), agent_rss_mb: round(report.rssMb, 1) }),
      processed: distinct,
      duplicates,
      succeeded,
      failed,
      ok,
    };
    if (!ok) {
      result.error = `expected ${N} jobs processed once and succeeded; processed ${distinct}, duplicates ${duplicates}, invalid ${invalid}, succeeded ${succeeded}, failed ${failed}`;
    }
    return result;
  } finally {
    clearInterval(rssTimer);
    await agent?.stop(5000).catch((err: unknown) => log(`agent stop failed: ${String(err)}`));
    await remote?.stop();
    await bench?.close(log);
  }
}

/** Succeeded and failed jobs on the benchmark queue. */
async function counts(store: Store): Promise<{ succeeded: number; failed: number }> {
  const stats = (await store.queueStats()).find((s) => s.queue === THROUGHPUT_QUEUE);
  return { succeeded: stats?.counts.succeeded ?? 0, failed: stats?.counts.failed ?? 0 };
}
