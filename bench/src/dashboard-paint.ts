#!/usr/bin/env node
/**
 * First paint of the dashboard's Jobs page over a large store:
 *
 *   node bench/dist/dashboard-paint.js [--jobs 1000000] [--store URL] [--runs 5] [--keep]
 *
 * Fills the store with `--jobs` jobs (spread over 7 days, 5 queues, 12 tasks, 20 owners; a
 * third queued, the rest delayed, since only agents can finish jobs and a million runs would
 * measure the fill, not the page) through the store's own batched enqueue, starts a server on
 * it, and opens `/jobs` in Debian's chromium `--runs` times, each in a fresh browser context
 * (nothing cached), timing from navigation to the first row drawn and to the per-state counts
 * drawn. It also times the two API calls the page makes. On a store URL given, the jobs are
 * added to what is there (use a fresh schema or prefix).
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { startBenchServer } from './bench-server.js';
import { percentile, sortedCopy } from './stats.js';

function summarize(values: number[]): { p50: number; p90: number; max: number } {
  const sorted = sortedCopy(values);
  return {
    p50: percentile(sorted, 50) ?? NaN,
    p90: percentile(sorted, 90) ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

const CHROMIUM = process.env.BATON_CHROMIUM ?? '/usr/bin/chromium';
const log = (line: string): void => void process.stderr.write(`${line}\n`);

function usage(message: string): never {
  process.stderr.write(`dashboard-paint: ${message}\nusage: dashboard-paint [--jobs N] [--store URL] [--runs N]\n`);
  process.exit(2);
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) usage(`${name} must be a positive integer, got "${text}"`);
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: { jobs: { type: 'string' }, store: { type: 'string' }, runs: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
  const jobs = positive('--jobs', values.jobs as string | undefined, 1_000_000);
  const runs = positive('--runs', values.runs as string | undefined, 5);
  if (!existsSync(CHROMIUM)) usage(`no chromium at ${CHROMIUM} (apt install chromium, or set BATON_CHROMIUM)`);

  const bench = await startBenchServer(values.store as string | undefined);
  try {
    await fill(bench.store, jobs);
    const adminToken = bench.adminToken;
    const api = await timeApi(bench.url, adminToken);
    const paints = await timePaints(bench.url, adminToken, runs);
    const result = {
      workload: 'dashboard-paint',
      store: (values.store as string | undefined)?.replace(/\/\/[^@/]*@/, '//') ?? 'sqlite (temp file)',
      jobs,
      runs,
      firstRowMs: summarize(paints.map((p) => p.firstRowMs)),
      pageFirstRowMs: summarize(paints.map((p) => p.pageRowMs)),
      countsMs: summarize(paints.map((p) => p.countsMs)),
      api,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    log(
      `first row p50 ${result.firstRowMs.p50.toFixed(0)} ms (max ${result.firstRowMs.max.toFixed(0)}; page clock p50 ${result.pageFirstRowMs.p50.toFixed(0)} ms), counts p50 ${result.countsMs.p50.toFixed(0)} ms; ` +
        `API: jobs page p50 ${api.jobsPage.p50.toFixed(1)} ms, counts p50 ${api.counts.p50.toFixed(1)} ms, failed filter p50 ${api.filtered.p50.toFixed(1)} ms`,
    );
  } finally {
    await bench.close(log);
  }
}

const QUEUES = ['default', 'render', 'etl', 'train', 'reports'];

async function fill(store: Awaited<ReturnType<typeof startBenchServer>>['store'], total: number): Promise<void> {
  const now = Date.now();
  const span = 7 * 86_400_000;
  const batch = 5000;
  const started = performance.now();
  let lastLog = started;
  for (let done = 0; done < total; done += batch) {
    const n = Math.min(batch, total - done);
    const jobs: NewJob[] = [];
    for (let i = 0; i < n; i++) {
      const k = done + i;
      // Oldest first, so ids (time-ordered) and creation times agree as in a real store.
      const createdAt = now - span + Math.floor((k / total) * span);
      jobs.push({
        id: newJobId(createdAt),
        queue: QUEUES[k % QUEUES.length] as string,
        task: `task-${k % 12}`,
        owner: `user-${k % 20}`,
        payload: { i: k, input: `s3://bucket/object-${k}` },
        priority: 'normal',
        priorityLevel: 0,
        resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 },
        constraints: { tags: [] },
        maxAttempts: 3,
        backoffMs: 1000,
        timeoutMs: null,
        runAt: k % 3 === 0 ? createdAt : now + 365 * 86_400_000,
        idempotencyKey: null,
        createdAt,
      });
    }
    await store.enqueue(jobs);
    // SQLite's calls are synchronous: without a turn of the event loop between batches the
    // server's timers (keep-alive, samplers) would all fire at once after the fill.
    await new Promise((resolve) => setImmediate(resolve));
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      const rate = (done + n) / ((lastLog - started) / 1000);
      log(`filling: ${done + n}/${total} jobs (${rate.toFixed(0)}/s)`);
    }
  }
  log(`filled ${total} jobs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function timeApi(url: string, token: string) {
  const headers = { authorization: `Bearer ${token}` };
  const time = async (path: string): Promise<number> => {
    const t = performance.now();
    const r = await fetch(url + path, { headers });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
    return performance.now() - t;
  };
  const series = async (path: string) => {
    const ms: number[] = [];
    for (let i = 0; i < 20; i++) ms.push(await time(path));
    return summarize(ms);
  };
  return {
    jobsPage: await series('/api/jobs?limit=50'),
    counts: await series('/api/jobs/counts'),
    filtered: await series('/api/jobs?limit=50&state=queued&queue=etl'),
  };
}

async function timePaints(url: string, token: string, runs: number) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const out: { firstRowMs: number; pageRowMs: number; countsMs: number }[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const t = performance.now();
      await page.goto(`${url}/jobs#token=${encodeURIComponent(token)}`);
      await page.locator('.jobs-table tbody tr').first().waitFor({ timeout: 60_000 });
      const firstRowMs = performance.now() - t;
      // The page's own clock: from its navigation's start, without the browser's set-up.
      const pageRowMs = await page.evaluate(() => performance.now());
      // Polled from here: the page's CSP refuses code evaluated in it.
      while ((await page.locator('.tab .count', { hasText: '—' }).count()) > 0) await page.waitForTimeout(10);
      const countsMs = performance.now() - t;
      out.push({ firstRowMs, pageRowMs, countsMs });
      log(
        `paint ${i + 1}/${runs}: first row ${firstRowMs.toFixed(0)} ms (page clock ${pageRowMs.toFixed(0)} ms), counts ${countsMs.toFixed(0)} ms`,
      );
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return out;
}

main().catch((err: unknown) => {
  const cause = err instanceof Error && err.cause ? ` (cause: ${String(err.cause)})` : '';
  process.stderr.write(`dashboard-paint: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}${cause}\n`);
  process.exit(1);
});
