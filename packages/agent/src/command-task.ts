import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { COMMAND_BASE_ENV, COMMAND_GPU_ENV, commandEnvNameProblem, describeIssues } from '@baton/core';
import { z } from 'zod';
import { defineTask, type PayloadSchema, type TaskContext, type TaskDefinition } from './task.js';
import { preemptGraceOf } from './preemption.js';
import { withStepInputs } from './command-inputs.js';

/**
 * The built-in `command` task: runs a program (no shell) in its own process group, in a clean
 * environment (never the agent's own, which holds its token) with `CUDA_VISIBLE_DEVICES` set to
 * the GPUs reserved for the job, streams its output to the job's log, and stops the whole group
 * on cancel, timeout or lease loss.
 */

export const COMMAND_TASK = 'command';
/** How long a process group gets between SIGTERM and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 5000;
/** Bytes of each stream kept for the result and error messages. */
const TAIL_BYTES = 4096;
/** How long output may still arrive after the command and its group are gone. */
const OUTPUT_DRAIN_MS = 1000;
/** How long to wait for a group to vanish after SIGKILL. */
const KILL_WAIT_MS = 2000;
const POLL_MS = 50;

export interface CommandPayload {
  /** The program and its arguments; run without a shell. */
  argv: [string, ...string[]];
  /**
   * Added to the command's clean environment. May not set `CUDA_VISIBLE_DEVICES`, `BATON_*`, or
   * loader and interpreter hooks (`LD_PRELOAD`, `NODE_OPTIONS`…: see `commandEnvNameProblem`).
   */
  env?: Record<string, string>;
  /** Working directory; must exist. Default: the agent's. */
  cwd?: string;
}

/** The result of a command that exited with code 0. */
export interface CommandResult {
  exitCode: 0;
  signal: null;
  durationMs: number;
  /** The last 4 KiB of stdout and stderr, decoded as UTF-8. */
  stdoutTail: string;
  stderrTail: string;
}

export interface CommandTaskOptions {
  /** Time between SIGTERM and SIGKILL to the command's process group. Default 5000. */
  killGraceMs?: number;
  /**
   * Variables every command gets on top of the clean base (`PATH`, `HOME`, `LANG`, `LC_ALL`,
   * `TZ`, `TMPDIR` copied from the agent): what the operator passes with `baton agent
   * --pass-env` and `--command-env`. A job's `env` may override them. Default: none.
   */
  env?: Record<string, string>;
}

const PAYLOAD_SHAPE = '{"argv": [program, ...args], "env"?: {...}, "cwd"?: "..."}';
const NUL_MESSAGE = 'must not contain NUL characters';
const noNul = (s: string): boolean => !s.includes('\0');

const commandPayloadZod = z.strictObject(
  {
    argv: z
      .array(z.string('must be a string').refine(noNul, NUL_MESSAGE), {
        error: (issue) =>
          issue.input === undefined
            ? 'is required: [program, ...args]'
            : 'must be an array of strings: [program, ...args]',
      })
      .min(1, 'must name the program to run: [program, ...args]')
      .refine((argv) => argv[0] !== '', 'the program (argv[0]) must not be empty'),
    env: z
      .record(z.string(), z.string('values must be strings').refine(noNul, NUL_MESSAGE), {
        error: (issue) => (issue.code === 'invalid_type' ? 'must be an object of string values' : undefined),
      })
      .superRefine((env, ctx) => {
        // The server refuses these at submission; a job that reaches the agent anyway still fails.
        for (const name of Object.keys(env)) {
          const problem = commandEnvNameProblem(name);
          if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
        }
      })
      .optional(),
    cwd: z.string('must be a string').min(1, 'must not be empty').refine(noNul, NUL_MESSAGE).optional(),
  },
  {
    error: (issue) => {
      if (issue.code === 'invalid_type') return `the payload must be an object: ${PAYLOAD_SHAPE}`;
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((key) => `"${key}"`).join(', ');
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}: the payload is ${PAYLOAD_SHAPE}`;
      }
      return undefined;
    },
  },
);

/** Checks a `command` payload; the error message names the offending field. */
export const commandPayloadSchema: PayloadSchema<CommandPayload> = {
  parse(value: unknown): CommandPayload {
    const parsed = commandPayloadZod.safeParse(value);
    if (!parsed.success) throw new Error(describeIssues(parsed.error).message);
    return parsed.data as CommandPayload;
  },
};

/** An error that runTask turns into a job error with this code and retryability. */
class CommandError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Makes a `command` task with its own options (the exported `commandTask` uses the defaults). */
export function createCommandTask(options: CommandTaskOptions = {}): TaskDefinition<CommandPayload, CommandResult> {
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  if (!Number.isFinite(killGraceMs) || killGraceMs < 0) {
    throw new RangeError(`killGraceMs must be a non-negative number, got ${killGraceMs}`);
  }
  const operatorEnv = { ...options.env };
  for (const name of Object.keys(operatorEnv)) {
    if (name === '' || name.includes('=') || name.includes('\0') || name === COMMAND_GPU_ENV) {
      throw new RangeError(`env may not set "${name}"`);
    }
  }
  // A workflow step also gets its inputs (command-inputs.ts); a plain job nothing more.
  const run = (payload: CommandPayload, ctx: TaskContext) =>
    withStepInputs(ctx, commandEnv(operatorEnv, payload.env, ctx.gpus), (env) =>
      runCommand(payload, ctx, { killGraceMs, env }),
    );
  return defineTask(COMMAND_TASK, run, {
    schema: commandPayloadSchema,
    // The outcome waits until the process group is gone (SIGTERM, grace, SIGKILL, reaping).
    abortGraceMs: killGraceMs + 2000,
    // The group is gone once SIGKILL lands: the lease fence need not wait for the reaping too.
    stopGraceMs: killGraceMs,
  });
}

export const commandTask = createCommandTask();

/**
 * The environment of one command: the base copied from the agent, the operator's variables,
 * the job's, then the GPUs. Nothing else of the agent's environment (its token, credentials)
 * reaches the command.
 */
function commandEnv(
  operatorEnv: Record<string, string>,
  payloadEnv: Record<string, string> | undefined,
  gpus: readonly number[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of COMMAND_BASE_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, operatorEnv, payloadEnv, { [COMMAND_GPU_ENV]: gpus.join(',') });
  // nvidia-smi numbers GPUs in PCI bus order; CUDA by default fastest first. Make them agree.
  env.CUDA_DEVICE_ORDER ??= 'PCI_BUS_ID';
  return env;
}

async function runCommand(
  payload: CommandPayload,
  ctx: TaskContext,
  { killGraceMs, env }: { killGraceMs: number; env: Record<string, string> },
): Promise<CommandResult> {
  const signal = ctx.signal;
  if (signal.aborted) throw abortReason(signal);
  const [program, ...args] = payload.argv;
  if (payload.cwd !== undefined) {
    const problem = await cwdProblem(payload.cwd);
    if (problem) throw new CommandError(problem, 'CWD_NOT_FOUND', false);
    if (signal.aborted) throw abortReason(signal);
  }

  const started = performance.now();
  let child: ChildProcess;
  try {
    child = spawn(program, args, {
      cwd: payload.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group (and session), so the whole tree can be signalled
      windowsHide: true,
    });
  } catch (err) {
    throw new CommandError(`could not start "${program}": ${messageOf(err)}`, 'COMMAND_FAILED', false);
  }

  const stdout = new StreamCapture('stdout', ctx);
  const stderr = new StreamCapture('stderr', ctx);
  child.stdout?.on('data', (chunk: Buffer) => stdout.write(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.write(chunk));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, sig) => resolve({ code, signal: sig })),
  );
  const spawnError = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.on('error', (err) => resolve(err)); // also keeps a late error from crashing the agent
  });
  if (spawnError) throw await spawnFailure(spawnError, program, payload.cwd);

  const pgid = child.pid!;
  let terminating: Promise<void> | null = null;
  // A preempted job's group gets the agent's preemption grace between SIGTERM and SIGKILL.
  const terminate = (): Promise<void> =>
    (terminating ??= terminateGroup(pgid, preemptGraceOf(signal.reason) ?? killGraceMs));
  const onAbort = (): void => void terminate();
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();

  const exit = await exited;
  const durationMs = Math.round(performance.now() - started);
  signal.removeEventListener('abort', onAbort);
  // The job ends with its whole process group: nothing it started may outlive it (and hold GPUs).
  if (terminating || groupAlive(pgid)) await terminate();
  await drain(child, closed);
  stdout.end();
  stderr.end();

  if (signal.aborted) throw abortReason(signal);
  const stderrTail = stderr.tail();
  if (exit.code === 0) {
    return { exitCode: 0, signal: null, durationMs, stdoutTail: stdout.tail(), stderrTail };
  }
  const what = exit.code !== null ? `command exited with code ${exit.code}` : `command was killed by ${exit.signal}`;
  const last = lastLines(stderrTail);
  throw new CommandError(last ? `${what}; stderr: ${last}` : what, 'COMMAND_FAILED', true);
}

async function cwdProblem(cwd: string): Promise<string | null> {
  try {
    const info = await stat(cwd);
    return info.isDirectory() ? null : `working directory "${cwd}" is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `working directory "${cwd}" does not exist`
      : `working directory "${cwd}" cannot be used: ${messageOf(err)}`;
  }
}

async function spawnFailure(err: NodeJS.ErrnoException, program: string, cwd: string | undefined): Promise<Error> {
  if (err.code === 'ENOENT' || err.code === 'EACCES') {
    // A working directory that vanished after the check fails the spawn with ENOENT too.
    const problem = cwd === undefined ? null : await cwdProblem(cwd);
    if (problem) return new CommandError(problem, 'CWD_NOT_FOUND', false);
    const why = err.code === 'ENOENT' ? 'not found' : 'not executable (permission denied)';
    return new CommandError(`command "${program}" ${why}`, 'COMMAND_NOT_FOUND', false);
  }
  return new CommandError(`could not start "${program}": ${err.message}`, 'COMMAND_FAILED', true);
}

/** SIGTERM to the group, SIGKILL after the grace if anything in it is still alive. */
async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  signalGroup(pgid, 'SIGCONT'); // a stopped process only sees SIGTERM once continued
  if (await waitGroupGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, KILL_WAIT_MS);
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: already gone. EPERM: a member we may not signal; nothing more we can do.
  }
}

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (groupAlive(pgid)) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
  }
  return true;
}

/**
 * Whether any process of the group still runs. Zombies do not count: where PID 1 does not reap
 * orphans (containers without an init), a killed grandchild stays a zombie for good.
 */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return liveGroupMemberInProc(pgid) ?? true;
}

/** Scans /proc (Linux) for a member of the group that is not a zombie; undefined elsewhere. */
function liveGroupMemberInProc(pgid: number): boolean | undefined {
  if (process.platform !== 'linux') return undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const name of entries) {
    const first = name.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

/** Waits for the child's pipes to close; gives up on pipes held open by a process that left the group. */
async function drain(child: ChildProcess, closed: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), OUTPUT_DRAIN_MS);
  });
  const timedOut = await Promise.race([closed.then(() => false), late]);
  clearTimeout(timer);
  if (timedOut) {
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
}

/** Decodes one stream as UTF-8 (safe across chunk boundaries), forwards it, and keeps its tail. */
class StreamCapture {
  private readonly decoder = new StringDecoder('utf8');
  private chunks: Buffer[] = [];
  private size = 0;
  private outputFailed = false;

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    private readonly ctx: TaskContext,
  ) {}

  write(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= TAIL_BYTES) {
      this.size -= this.chunks.shift()!.length;
    }
    this.forward(this.decoder.write(chunk));
  }

  end(): void {
    this.forward(this.decoder.end());
  }

  /** The last TAIL_BYTES bytes, starting at a character boundary. */
  tail(): string {
    let bytes = Buffer.concat(this.chunks);
    if (bytes.length > TAIL_BYTES) {
      let start = bytes.length - TAIL_BYTES;
      while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
      bytes = bytes.subarray(start);
    }
    return bytes.toString('utf8');
  }

  private forward(text: string): void {
    if (!text) return;
    try {
      this.ctx.output(this.stream, text);
    } catch (err) {
      if (!this.outputFailed)
        this.ctx.log.warn({ err: messageOf(err) }, `command ${this.stream} could not be recorded`);
      this.outputFailed = true;
    }
  }
}

/** The last few non-empty lines of a text (a `\r`-updated progress bar counts its last state). */
function lastLines(text: string, count = 3, maxChars = 1000): string {
  const lines = text
    .split(/\r\n|\r|\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '');
  const joined = lines.slice(-count).join('\n');
  return joined.length > maxChars ? `…${joined.slice(-maxChars)}` : joined;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('command aborted');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
