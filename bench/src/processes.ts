import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The built `baton` CLI, as users run it. */
export const BATON_BIN = fileURLToPath(new URL('../../packages/cli/bin/baton.js', import.meta.url));

/** A process's CPU time so far, in ms (utime + stime of /proc/PID/stat); NaN where unreadable. */
export async function procCpuMs(pid: number | undefined, tick: number): Promise<number> {
  if (pid === undefined) return 0;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis, from field 3 (state): utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / tick;
  } catch {
    return NaN;
  }
}

/** Busy and total CPU time of the whole machine so far, ms (the `cpu` line of /proc/stat). */
export async function machineCpuMs(tick: number): Promise<{ busy: number; total: number }> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
    // user nice system idle iowait irq softirq steal …
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: ((total - idle) * 1000) / tick, total: (total * 1000) / tick };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** Clock ticks per second of /proc's CPU times. */
export function clockTick(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export interface BatonChild {
  proc: ChildProcess;
  /** Waits until the process's output (stdout and stderr) matches; rejects if it exits first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** What it printed so far (the first 64 KiB). */
  output(): string;
}

/**
 * A node process (`args`: a script and its arguments), its output kept to find its start-up line
 * (and for errors). `ipc` opens a message channel to it (`process.send` there).
 */
export function startNode(
  args: string[],
  env: Record<string, string> = {},
  options: { ipc?: boolean } = {},
): BatonChild {
  const proc = spawn(process.execPath, args, {
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  const keep = (d: Buffer) => {
    if (out.length < 64 * 1024) out += d.toString();
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const name = args.find((a) => !a.startsWith('-')) ?? 'node';
  return {
    proc,
    output: () => out,
    waitFor: async (pattern, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(out);
        if (m) return m;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited:\n${out}`);
        if (Date.now() > deadline) throw new Error(`${name} did not print ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/**
 * A `baton` CLI process (`baton server`, `baton agent`), as {@link startNode} starts it; `ipc`
 * lets a `--tasks` module loaded by `baton agent` report to the bench.
 */
export function startBaton(
  args: string[],
  env: Record<string, string>,
  options: { nodeArgs?: string[]; ipc?: boolean } = {},
): BatonChild {
  return startNode([...(options.nodeArgs ?? []), BATON_BIN, ...args], env, { ipc: options.ipc ?? false });
}

/** Resolves with a child's first message of `type`, rejecting on a message `error`, its exit or the timeout. */
export function nextMessage<T>(proc: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`no "${type}" from ${proc.spawnfile} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (m: { type?: string; error?: string }) => {
      if (m.type === type) done(null, m as T);
      else if (m.type === 'error') done(new Error(m.error ?? 'child failed'));
    };
    const onExit = (code: number | null) => done(new Error(`child exited (${code}) before "${type}"`));
    function done(err: Error | null, value?: T) {
      clearTimeout(timer);
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Never throws. */
export async function stopChild(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, graceMs))]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}
