import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../packages/cli/bin/baton.js', import.meta.url));

/** The admin token the servers started here get, unless a test gives its own. */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** The token each server started here answers to (by URL), sent by getJson and postJson. */
const tokens = new Map<string, { token: string; child: ChildProcess }>();

/** A `baton` child process, with its output kept for assertions and failure messages. */
export interface BatonProcess {
  child: ChildProcess;
  url: string;
  /** Its BATON_CONFIG_DIR: a fresh directory, so that `baton dev` never writes the user's own. */
  configDir: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `baton dev ARGS` on a free port and resolves once it prints its URL. */
export function startBatonDev(args: string[], timeoutMs = 20_000): Promise<BatonProcess> {
  return startBatonListening('dev', args, timeoutMs);
}

/**
 * Starts `baton COMMAND ARGS` (dev or server) on a free port; resolves once it prints its URL.
 * Unless ARGS say how (or `testAuth: false`), `baton dev` gets the admin token TEST_ADMIN_TOKEN
 * and `baton server` `--insecure-no-auth` (the old open API); each gets a fresh BATON_CONFIG_DIR
 * unless `env` names one.
 */
export function startBatonListening(
  command: 'dev' | 'server',
  args: string[],
  timeoutMs = 20_000,
  options: { env?: Record<string, string | undefined>; testAuth?: boolean } = {},
): Promise<BatonProcess> {
  const env = options.env ?? {};
  const configDir = env.BATON_CONFIG_DIR ?? mkdtempSync(join(tmpdir(), 'baton-config-'));
  const authGiven = options.testAuth === false || args.includes('--admin-token') || args.includes('--insecure-no-auth');
  const auth = authGiven ? [] : command === 'dev' ? ['--admin-token', TEST_ADMIN_TOKEN] : ['--insecure-no-auth'];
  const given = args.indexOf('--admin-token');
  const adminToken = given >= 0 ? args[given + 1] : !authGiven && command === 'dev' ? TEST_ADMIN_TOKEN : null;
  const child = spawn(process.execPath, [BIN, command, '--port', '0', ...auth, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BATON_CONFIG_DIR: configDir, ...env },
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // A directory made here goes with the process; one the test gave is the test's.
  if (env.BATON_CONFIG_DIR === undefined) void exited.then(() => rmSync(configDir, { recursive: true, force: true }));
  // Its token goes with it too: a later server may listen on the same port with other
  // credentials.
  let listening: string | null = null;
  void exited.then(() => {
    if (listening !== null && tokens.get(listening)?.child === child) tokens.delete(listening);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`baton ${command} did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m?.[1]) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      listening = m[1];
      if (adminToken) tokens.set(m[1], { token: adminToken, child });
      resolve({ child, url: m[1], configDir, output: () => out, exited });
    };
    child.stdout?.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`baton ${command} exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
}

/** The Authorization header for a URL of a server started here, if it takes a token. */
function authOf(url: string): Record<string, string> {
  const token = tokens.get(new URL(url).origin)?.token;
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

export async function getJson(url: string): Promise<any> {
  const r = await fetch(url, { headers: authOf(url) });
  return r.json();
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authOf(url) },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
