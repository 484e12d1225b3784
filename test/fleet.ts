import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { until } from './baton-process.js';

export { until };

const BIN = fileURLToPath(new URL('../packages/cli/bin/baton.js', import.meta.url));

/** A `baton` child process with its output kept for assertions and failure messages. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first match of `pattern` in the output (now or later). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  kill(signal?: NodeJS.Signals): void;
}

export function startBaton(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    exited,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitFor: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (!m) return false;
          cleanup();
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern} in output of baton ${args.join(' ')}:\n${out}`));
        }, timeoutMs);
        const onExit = () => {
          if (check()) return;
          cleanup();
          reject(new Error(`baton ${args.join(' ')} exited before printing ${pattern}:\n${out}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(listener);
          child.off('exit', onExit);
        };
        const listener = () => void check();
        if (check()) return;
        listeners.add(listener);
        child.once('exit', onExit);
      }),
  };
}

export const AGENT_TOKEN = 'test-agent-token-0123456789';

/**
 * Short leases and timeouts so failover tests run in seconds. The shard lease too: a killed
 * server's shards (and so its queues' scheduling) move to a live one, or to the server restarted
 * in its place, only once it runs out; at the default 5 s every server kill cost a 5 s stall.
 */
export const FAST = [
  ...['--lease-ms', '2000', '--heartbeat-ms', '200', '--agent-timeout-ms', '2000'],
  ...['--shard-lease-ms', '2000'],
];

/** Starts `baton server` on a free port with a known agent token. */
export async function startServer(extra: string[] = []): Promise<{ proc: Proc; url: string }> {
  const proc = startBaton([
    'server',
    '--insecure-no-auth',
    '--port',
    '0',
    '--store',
    'sqlite::memory:',
    '--agent-token',
    AGENT_TOKEN,
    ...FAST,
    ...extra,
  ]);
  const m = await proc.waitFor(/listening on (http:\/\/\S+)/);
  return { proc, url: m[1] as string };
}

/** Starts `baton agent` against `url` and waits until it is registered. */
export async function startAgent(url: string, name: string, extra: string[], env: Record<string, string> = {}) {
  const proc = startBaton(['agent', '--server', url, '--token', AGENT_TOKEN, '--name', name, ...extra], env);
  await proc.waitFor(/connected to .* as (agent-\S+):/);
  return proc;
}

export async function api(url: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url + path, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* text body (logs) */
  }
  return { status: r.status, body: parsed };
}

export const job = (url: string, id: string) => api(url, `/api/jobs/${id}`).then((r) => r.body);
