import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'baton-bench-standard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI, without blocking the test worker's event loop. */
function bench(args: string[], timeoutMs = 60_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const lines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Tiny sizes: a smoke run of the standard points on the embedded SQLite alone. */
const TINY = ['standard', '--only', 'sqlite', '--jobs', '200', '--rate', '50', '--seconds', '2'];

describe('bench flags', () => {
  it.each([
    [['throughput', '--agent', 'foo'], /--agent must be in-process or remote, got "foo"/],
    [['standard', '--agent', 'foo'], /--agent must be in-process or remote, got "foo"/],
    [['packing', '--suite', '--agent', 'remote'], /--agent goes with throughput, latency and standard/],
    [['standard', '--only', 'nosuch'], /--only: unknown backend "nosuch"; known: sqlite, postgres, redis/],
    [['standard', '--only', 'sqlite,nosuch'], /--only: unknown backend "nosuch"/],
    [['standard', '--store', 'sqlite::memory:'], /--store does not go with standard/],
    [['standard', '--concurrency', '5'], /--concurrency does not go with standard/],
    [['latency', '--postgres', 'postgres://x/y'], /--postgres goes with the standard workload/],
    [['throughput', '--write-baseline'], /--write-baseline goes with the standard workload/],
    [
      ['throughput', '--only', 'sqlite'],
      /--only, --priorities and --write-traces go with packing --suite \(--only with standard too\)/,
    ],
  ])('refuses %j with exit code 2 and the usage', (args, message) => {
    const run = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/usage: npm run bench -- WORKLOAD/);
    expect(run.stdout).toBe('');
  });
});

describe('standard', () => {
  it('says so, before measuring anything, when the baseline file is missing', async () => {
    const run = await bench([...TINY, '--baseline', join(dir, 'none.json')]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/no baseline file at .*none\.json; measure one with --write-baseline/);
    expect(run.stdout).toBe('');
  });

  it.each([
    ['{"points": {', /is not valid JSON/],
    ['{"note": "no points"}', /has no "points" object/],
    ['{"points": {"throughput/sqlite/in-process": 3}}', /point "throughput\/sqlite\/in-process" is not an object/],
  ])('says what is wrong with a corrupt baseline %j', async (text, message) => {
    const file = join(dir, 'corrupt.json');
    writeFileSync(file, text);
    const run = await bench([...TINY, '--baseline', file]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('writes a baseline, then prints each point with its baseline and ratio', async () => {
    const file = join(dir, 'baseline.json');
    const written = await bench([...TINY, '--baseline', file, '--write-baseline']);
    expect(written.stderr).toMatch(/baseline written to/);
    expect(written.status).toBe(0);
    const baseline = JSON.parse(readFileSync(file, 'utf8')) as {
      commit: unknown;
      date: string;
      points: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(baseline.points).sort()).toEqual(['latency/sqlite/in-process', 'throughput/sqlite/in-process']);
    expect(baseline.points['throughput/sqlite/in-process']).toMatchObject({ jobs: 200, concurrency: 50 });
    expect(baseline.points['latency/sqlite/in-process']).toMatchObject({ rate: 50, seconds: 2, concurrency: 10 });
    expect(Date.parse(baseline.date)).not.toBeNaN();

    // Figures set so that each ratio's direction is known: a tiny rate and a huge latency in the
    // baseline make ratios above 1 (better), a huge rate one below 0.8 (flagged).
    const tp = baseline.points['throughput/sqlite/in-process'] as Record<string, unknown>;
    Object.assign(tp, { process_per_s: 0.001, enqueue_per_s: 1e12, pickup_p50_ms: 1e9, pickup_p99_ms: 1e9 });
    writeFileSync(file, JSON.stringify(baseline));
    const run = await bench([...TINY, '--baseline', file]);
    expect(run.status).toBe(0);
    const [throughput, latency] = lines(run.stdout);
    expect(throughput).toMatchObject({
      workload: 'throughput',
      backend: 'sqlite',
      agent: 'in-process',
      standard: true,
      ok: true,
      process_per_s_baseline: 0.001,
      enqueue_per_s_baseline: 1e12,
      below_warn_ratio: ['enqueue_per_s'],
      ratio_means: expect.stringMatching(/higher is better: now\/baseline for _per_s figures, baseline\/now for _ms/),
    });
    expect(throughput?.process_per_s_ratio as number).toBeGreaterThan(1);
    expect(throughput?.pickup_p99_ms_ratio as number).toBeGreaterThan(1);
    expect(throughput?.enqueue_per_s_ratio as number).toBeLessThan(0.8);
    expect(throughput).not.toHaveProperty('baseline_sizes_differ');
    expect(latency).toMatchObject({ workload: 'latency', agent: 'in-process', ok: true });
    expect(latency?.pickup_p50_ms_ratio).toEqual(expect.any(Number));
    expect(run.stderr).toMatch(/warning: enqueue_per_s .* ratio .* < 0\.8/);
    expect(run.stderr).toMatch(/point\s+backend\s+agent\s+figure\s+now\s+baseline\s+ratio/);
  }, 120_000);

  it('skips a service it cannot reach, saying so, and fails when nothing ran', async () => {
    const file = join(dir, 'skip.json');
    writeFileSync(file, '{"points": {}}');
    const run = await bench([
      'standard',
      '--only',
      'postgres,redis',
      '--postgres',
      'postgres://root@127.0.0.1:1/test',
      '--redis',
      'redis://127.0.0.1:1/12',
      '--baseline',
      file,
    ]);
    expect(run.stderr).toMatch(/postgres: not reachable at postgres:\/\/root@127\.0\.0\.1:1\/test .*; skipped/);
    expect(run.stderr).toMatch(/redis: not reachable at redis:\/\/127\.0\.0\.1:1\/12 .*; skipped/);
    expect(run.stderr).toMatch(/nothing ran/);
    expect(run.status).toBe(1);
    expect(lines(run.stdout)).toEqual([
      expect.objectContaining({ backend: 'postgres', skipped: expect.stringMatching(/^not reachable/) }),
      expect.objectContaining({ backend: 'redis', skipped: expect.stringMatching(/^not reachable/) }),
    ]);
  });
});
