import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getJson, startBatonListening } from './baton-process.js';

/**
 * One server per SQLite file: servers sharing a file would each schedule on their own and never
 * see the other's agents. A second `baton server` (or `baton dev`) on a file another live
 * server holds exits 1 at once with STORE_IN_USE and one line naming the holder; the first
 * keeps serving.
 */
const BIN = fileURLToPath(new URL('../packages/cli/bin/baton.js', import.meta.url));
// A config directory of the test's own: `baton dev` never writes the user's credentials file.
const CONFIG_DIR = mkdtempSync(join(tmpdir(), 'baton-one-server-config-'));
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [BIN, ...args], {
    timeout: 20_000,
    env: { ...process.env, BATON_CONFIG_DIR: CONFIG_DIR },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('one server per SQLite file', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('refuses a second baton server or baton dev on the file with STORE_IN_USE; the first keeps serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-one-server-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = `sqlite:${join(dir, 'baton.db')}`;
    const first = await startBatonListening('server', ['--store', store]);
    cleanup.push(async () => {
      first.child.kill('SIGINT');
      await first.exited;
    });

    for (const command of ['server', 'dev']) {
      const auth = command === 'server' ? ['--insecure-no-auth'] : [];
      const second = await run([command, '--store', store, '--port', '0', ...auth]);
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

afterAll(() => rmSync(CONFIG_DIR, { recursive: true, force: true }));
