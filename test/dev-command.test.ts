import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { getJson, startBatonDev, until } from './baton-process.js';

const BIN = fileURLToPath(new URL('../packages/cli/bin/baton.js', import.meta.url));
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [BIN, ...args], { timeout: 20_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('baton dev', () => {
  it('runs the demo workload to completion and stops cleanly on SIGINT', async () => {
    const dev = await startBatonDev(['--store', 'sqlite::memory:', '--demo']);
    try {
      await until('the demo to finish', async () => /demo: done/.test(dev.output()), 30_000);
      expect(dev.output()).toMatch(/demo: 12\/12 finished — 11 succeeded, 1 failed/);
      // The document pipeline ran to its end: extract, three OCR steps, index.
      expect(dev.output()).toMatch(/demo: workflow document-pipeline succeeded: 5\/5 steps finished/);
      // The campaign grew from one propose step by three iterations of five steps, and ended.
      expect(dev.output()).toMatch(/demo: workflow campaign succeeded: 16\/16 steps finished/);
      // Only the demo's own jobs: the live stream after it submits as demo-live.
      const { jobs } = await getJson(`${dev.url}/api/jobs?owner=demo&limit=100`);
      expect(jobs).toHaveLength(12 + 5 + 16);
      expect(jobs.every((j: { owner: string }) => j.owner === 'demo')).toBe(true);
      await until('the live stream to submit', async () => {
        const live = await getJson(`${dev.url}/api/jobs?owner=demo-live&limit=5`);
        return live.jobs.length > 0;
      });
    } finally {
      dev.child.kill('SIGINT');
    }
    expect((await dev.exited).code).toBe(0);
  });

  it('refuses bad flags with one line and exit code 2', async () => {
    for (const args of [
      ['dev', '--port', 'abc'],
      ['dev', '--port', '70000'],
      ['dev', '--concurrency', '0'],
      ['dev', '--agents', '-1'],
    ]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(/--(port|concurrency|agents) must be an integer/);
    }
    const lease = await run([
      'dev',
      '--store',
      'sqlite::memory:',
      '--lease-ms',
      '1000',
      '--heartbeat-ms',
      '2000',
      '--port',
      '0',
    ]);
    expect(lease.code).toBe(2);
    expect(lease.stderr).toMatch(/heartbeatMs \(2000\) must be shorter than leaseMs \(1000\)/);
    const unknown = await run(['dev', '--colour']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--colour'/);
  });

  it('fails with a clear message on an unsupported store or a busy port', async () => {
    const store = await run(['dev', '--store', 'mysql://localhost/x', '--port', '0']);
    expect(store.code).toBe(1);
    expect(store.stderr).toMatch(/cannot open store mysql:\/\/localhost\/x: store backend "mysql" is not available/);

    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = await run(['dev', '--store', 'sqlite::memory:', '--port', String(port)]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(new RegExp(`port ${port} is already in use`));
    } finally {
      blocker.close();
    }
  });
});
