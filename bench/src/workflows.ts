import { performance } from 'node:perf_hooks';
import { Agent, defineTask } from '@baton/agent';
import type { Store } from '@baton/store';
import type { BenchServer } from './bench-server.js';
import { startBenchServer } from './bench-server.js';
import { round } from './stats.js';
import { sleep } from './waits.js';

export const WORKFLOW_TASK = 'bench.step';
export const WORKFLOW_QUEUE = 'bench-wf';

export interface WorkflowBenchOptions {
  /** Store URL; absent: a fresh SQLite file in a temp folder. */
  store?: string;
  noAuth?: boolean;
  /** Workflows of the steps/s run (default 1 000). */
  workflows: number;
  /** Steps per workflow (default 10): a root, a fan-out of steps − 2, a join. */
  steps: number;
  /** The agent's concurrency (default 50). */
  concurrency: number;
  /** Steps of the one-workflow fan-out run (default 10 000; 0 skips it). */
  fanOut: number;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** One run: steps/s of many small workflows, the same number of plain jobs, and a wide fan-out. */
export interface WorkflowBenchResult {
  system: 'baton';
  backend: Store['backend'];
  workload: 'workflows';
  workflows: number;
  steps_per_workflow: number;
  concurrency: number;
  /** Steps (jobs) per second from the first submission until every workflow succeeded. */
  steps_per_s: number | null;
  /**
   * The same number of plain jobs, submitted like the workflows (bulk requests of as many jobs as
   * a workflow has steps, 20 in flight) and drained the same way.
   */
  plain_jobs_per_s: number | null;
  /** The same again in bulk requests of 1 000 jobs (fewer requests than any workflow run makes). */
  plain_bulk_jobs_per_s: number | null;
  /** What a step costs against a plain job: plain_jobs_per_s / steps_per_s (goal ≤ 1.5). */
  step_cost_ratio: number | null;
  /** Of the above: until every plain job, and every workflow, was accepted by the API. */
  plain_submit_ms: number | null;
  workflow_submit_ms: number | null;
  fan_out_steps: number;
  /** POST of the fan-out workflow, until it was stored. */
  fan_out_submit_ms: number | null;
  /** Until every step of the fan-out succeeded. */
  fan_out_run_ms: number | null;
  /** RSS growth of this process (store, server, agent) across the fan-out run. */
  fan_out_rss_mb: number | null;
  ok: boolean;
  error?: string;
}

const nowMs = (): number => performance.timeOrigin + performance.now();

/** A workflow of `n` steps: a root, `n − 2` steps that need it, and a join that needs them all. */
export function fanOutSteps(n: number, tag: string): { id: string; task: string; queue: string; needs?: string[] }[] {
  const middle = Array.from({ length: Math.max(0, n - 2) }, (_, i) => `m${i}`);
  return [
    { id: 'root', task: WORKFLOW_TASK, queue: WORKFLOW_QUEUE },
    ...middle.map((id) => ({ id, task: WORKFLOW_TASK, queue: WORKFLOW_QUEUE, needs: ['root'] })),
    ...(n > 1
      ? [{ id: `join-${tag}`, task: WORKFLOW_TASK, queue: WORKFLOW_QUEUE, needs: middle.length ? middle : ['root'] }]
      : []),
  ];
}

/**
 * `npm run bench -- workflows`: what a workflow step costs against a plain job on one backend,
 * everything in this process (store, HTTP server, scheduler, one agent), like `throughput`.
 */
export async function runWorkflowBench(options: WorkflowBenchOptions): Promise<WorkflowBenchResult> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 300_000;
  const deadline = Date.now() + timeoutMs;
  let ran = 0;
  const step = defineTask<unknown, number>(WORKFLOW_TASK, async () => ++ran, { queue: WORKFLOW_QUEUE });
  let bench: BenchServer | null = null;
  let agent: Agent | null = null;
  const result: WorkflowBenchResult = {
    system: 'baton',
    backend: 'sqlite',
    workload: 'workflows',
    workflows: options.workflows,
    steps_per_workflow: options.steps,
    concurrency: options.concurrency,
    steps_per_s: null,
    plain_jobs_per_s: null,
    plain_bulk_jobs_per_s: null,
    step_cost_ratio: null,
    plain_submit_ms: null,
    workflow_submit_ms: null,
    fan_out_steps: options.fanOut,
    fan_out_submit_ms: null,
    fan_out_run_ms: null,
    fan_out_rss_mb: null,
    ok: false,
  };
  try {
    bench = await startBenchServer(options.store, { noAuth: options.noAuth ?? false });
    const { store, server, url, token } = bench;
    result.backend = store.backend;
    await store.registerTasks([{ task: WORKFLOW_TASK, queue: WORKFLOW_QUEUE }]);
    agent = new Agent({ link: server.localLink(), tasks: [step], concurrency: options.concurrency, name: 'bench' });
    await agent.start();
    const api = apiOf(url, token);
    const total = options.workflows * options.steps;

    // ---- plain jobs, like for like: the same number, in bulk requests as large as a workflow,
    // 20 requests in flight as the workflows below, drained by the same agent ----
    let done = 0;
    const p0 = nowMs();
    for (let start = 0; start < options.workflows; start += 20) {
      const requests = Array.from({ length: Math.min(20, options.workflows - start) }, (_, w) =>
        api.post('/api/jobs/bulk', { jobs: plainJobs(options.steps, (start + w) * options.steps) }),
      );
      await Promise.all(requests);
    }
    result.plain_submit_ms = round(nowMs() - p0, 1);
    await untilSucceeded(store, (done += total), deadline);
    const plainMs = nowMs() - p0;
    result.plain_jobs_per_s = round(total / (plainMs / 1000), 1);
    log(`plain (${options.steps} per request): ${total} jobs in ${plainMs.toFixed(0)} ms`);

    // ---- plain jobs in the largest bulk requests (1 000 each), for reference ----
    const b0 = nowMs();
    for (let start = 0; start < total; start += 1000) {
      await api.post('/api/jobs/bulk', { jobs: plainJobs(Math.min(1000, total - start), start) });
    }
    await untilSucceeded(store, (done += total), deadline);
    const bulkMs = nowMs() - b0;
    result.plain_bulk_jobs_per_s = round(total / (bulkMs / 1000), 1);
    log(`plain (1 000 per request): ${total} jobs in ${bulkMs.toFixed(0)} ms`);

    // ---- workflows: submitted 20 at a time, until every one succeeded ----
    const w0 = nowMs();
    const ids: string[] = [];
    for (let start = 0; start < options.workflows; start += 20) {
      const batch = Array.from({ length: Math.min(20, options.workflows - start) }, (_, i) =>
        api.post('/api/workflows', { steps: fanOutSteps(options.steps, String(start + i)) }),
      );
      for (const w of await Promise.all(batch)) ids.push((w as { id: string }).id);
    }
    result.workflow_submit_ms = round(nowMs() - w0, 1);
    await untilSucceeded(store, (done += total), deadline);
    const wfMs = nowMs() - w0;
    result.steps_per_s = round(total / (wfMs / 1000), 1);
    result.step_cost_ratio = round(wfMs / plainMs, 2);
    for (const id of ids.slice(-5)) {
      const w = await store.getWorkflow(id);
      if (w?.state !== 'succeeded') throw new Error(`workflow ${id} ended ${w?.state ?? 'missing'}`);
    }
    log(`workflows: ${options.workflows} × ${options.steps} steps in ${wfMs.toFixed(0)} ms`);

    // ---- one wide fan-out ----
    if (options.fanOut > 0) {
      const rss0 = process.memoryUsage.rss();
      let rssPeak = rss0;
      const timer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 50);
      try {
        const f0 = nowMs();
        await api.post('/api/workflows', { steps: fanOutSteps(options.fanOut, 'wide') });
        result.fan_out_submit_ms = round(nowMs() - f0, 1);
        await untilSucceeded(store, (done += options.fanOut), deadline);
        result.fan_out_run_ms = round(nowMs() - f0, 1);
        result.fan_out_rss_mb = round((rssPeak - rss0) / (1024 * 1024), 1);
      } finally {
        clearInterval(timer);
      }
      log(
        `fan-out: ${options.fanOut} steps submitted in ${result.fan_out_submit_ms} ms, ran in ${result.fan_out_run_ms} ms`,
      );
    }
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await agent?.stop(5000).catch((err: unknown) => log(`agent stop failed: ${String(err)}`));
    await bench?.close(log);
  }
  return result;
}

function plainJobs(n: number, first: number) {
  return Array.from({ length: n }, (_, i) => ({
    task: WORKFLOW_TASK,
    queue: WORKFLOW_QUEUE,
    payload: { i: first + i },
  }));
}

function apiOf(base: string, token: string) {
  return {
    async post(path: string, body: unknown): Promise<unknown> {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 300)}`);
      return JSON.parse(text) as unknown;
    },
  };
}

/** Waits until the bench queue counts `n` succeeded jobs, or fails on a failure or the deadline. */
async function untilSucceeded(store: Store, n: number, deadline: number): Promise<void> {
  for (;;) {
    const counts = (await store.queueStats()).find((s) => s.queue === WORKFLOW_QUEUE)?.counts;
    if (counts && counts.failed + counts.skipped + counts.cancelled > 0) {
      throw new Error(`jobs ended badly: ${JSON.stringify(counts)}`);
    }
    if ((counts?.succeeded ?? 0) >= n) return;
    if (Date.now() > deadline) throw new Error(`timed out at ${counts?.succeeded ?? 0}/${n} succeeded`);
    await sleep(5);
  }
}
