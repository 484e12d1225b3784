import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { BatonProcess } from './baton-process.js';
import { getJson } from './baton-process.js';

/**
 * One server per SQLite file: servers sharing a file would each schedule on their own and never
 * see the other's agents. A second `baton server` (or `baton dev`) on a file another live
 * server holds exits 1 at once with STORE_IN_USE and one line naming the holder; the first
 * keeps serving.
 */
const BIN = fileURLToPath(new URL('../packages/cli/bin/baton.js', import.meta.url));
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [BIN, ...args], { timeout: 20_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

/** Starts `baton server ARGS` on a free port and resolves once it prints its URL. */
function startBatonServer(args: string[], timeoutMs = 20_000): Promise<BatonProcess> {
  const child = spawn(process.execPath, [BIN, 'server', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`baton server did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m?.[1]) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve({ child, url: m[1], output: () => out, exited });
    };
    child.stdout?.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`baton server exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
}

describe('one server per SQLite file', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('refuses a second baton server or baton dev on the file with STORE_IN_USE; the first keeps serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-one-server-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = `sqlite:${join(dir, 'baton.db')}`;
    const first = await startBatonServer(['--store', store]);
    cleanup.push(async () => {
      first.child.kill('SIGINT');
      await first.exited;
    });

    for (const command of ['server', 'dev']) {
      const second = await run([command, '--store', store, '--port', '0']);
      expect(second.code, `${command}: ${second.stderr}`).toBe(1);
      const lines = second.stderr.trim().split('\n');
      expect(lines).toHaveLength(1); // one line, no stack trace
      expect(lines[0]).toMatch(/^baton: another Baton server is using .*baton\.db.*\(STORE_IN_USE\)$/);
      expect(second.stdout).not.toMatch(/listening on/);
    }

    expect(await getJson(`${first.url}/healthz`)).toEqual({ status: 'ok' });
    const submitted = await fetch(`${first.url}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'nobody.serves.this' }),
    });
    expect(submitted.status).toBe(400); // answered by the first server, from its store
    expect(first.child.exitCode).toBeNull();
  });
});
