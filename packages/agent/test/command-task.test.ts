import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignedJob, JobAssignment } from '@baton/core';
import { COMMAND_TASK, commandTask, createCommandTask } from '../src/command-task.js';
import { JobAbort } from '../src/job-abort.js';
import { runTask } from '../src/run-task.js';
import { silentLogger, type AnyTaskDefinition } from '../src/task.js';

const node = process.execPath;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-command-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function assignment(payload: unknown, job: Partial<AssignedJob> = {}): JobAssignment {
  return {
    leaseToken: 'lease-1',
    job: {
      id: 'job-1',
      queue: 'default',
      task: COMMAND_TASK,
      owner: 'tester',
      payload,
      attempts: 1,
      maxAttempts: 3,
      timeoutMs: null,
      agentId: 'agent-1',
      resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: job.gpus?.length ?? 0 },
      gpus: [],
      ...job,
    },
  };
}

interface Run {
  outcome: Awaited<ReturnType<typeof runTask>>;
  output: { stream: 'stdout' | 'stderr'; data: string }[];
}

async function run(
  payload: unknown,
  job: Partial<AssignedJob> = {},
  {
    abort = new JobAbort(),
    task = commandTask,
    onOutput,
  }: { abort?: JobAbort; task?: AnyTaskDefinition; onOutput?: (chunk: Run['output'][number]) => void } = {},
): Promise<Run> {
  const output: Run['output'] = [];
  const outcome = await runTask(task, assignment(payload, job), abort, {
    logger: silentLogger,
    progress() {},
    output: (stream, data) => {
      output.push({ stream, data });
      onOutput?.({ stream, data });
    },
  });
  return { outcome, output };
}

function text(output: Run['output'], stream: 'stdout' | 'stderr'): string {
  return output
    .filter((chunk) => chunk.stream === stream)
    .map((chunk) => chunk.data)
    .join('');
}

function resultOf(outcome: Run['outcome']): Record<string, unknown> {
  if (outcome.outcome !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(outcome.error)}`);
  return outcome.result as Record<string, unknown>;
}

function errorOf(outcome: Run['outcome']): { code: string; message: string; retryable: boolean } {
  if (outcome.outcome !== 'failed') throw new Error(`expected failure, got ${JSON.stringify(outcome.result)}`);
  return outcome.error;
}

/**
 * Whether a process still runs. A zombie does not count: where PID 1 does not reap orphans
 * (some containers), a killed grandchild stays a zombie, and `kill(pid, 0)` still succeeds.
 */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return process.platform !== 'linux';
  }
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function readPid(file: string): Promise<number> {
  let pid = 0;
  await eventually(async () => {
    const content = await readFile(file, 'utf8').catch(() => '');
    pid = Number(content.trim());
    return content.endsWith('\n') && pid > 0;
  }, `a pid in ${file}`);
  return pid;
}

describe('command task', () => {
  it('returns the exit code, duration and output tails of a command that succeeds', async () => {
    const { outcome } = await run({ argv: ['sh', '-c', 'echo hello; echo warning >&2'] });
    const result = resultOf(outcome);
    expect(result).toMatchObject({ exitCode: 0, signal: null, stdoutTail: 'hello\n', stderrTail: 'warning\n' });
    expect(typeof result.durationMs).toBe('number');
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('fails with COMMAND_FAILED, the exit code and the last stderr line when the command fails', async () => {
    const { outcome } = await run({ argv: ['sh', '-c', 'echo starting >&2; echo "disk full" >&2; exit 3'] });
    const error = errorOf(outcome);
    expect(error.code).toBe('COMMAND_FAILED');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^command exited with code 3/);
    expect(error.message).toContain('disk full');
  });

  it('names the signal when the command is killed by one without an abort', async () => {
    const { outcome } = await run({ argv: ['sh', '-c', 'kill -KILL $$'] });
    const error = errorOf(outcome);
    expect(error.code).toBe('COMMAND_FAILED');
    expect(error.message).toContain('SIGKILL');
  });

  it('streams stdout and stderr to ctx.output in order', async () => {
    // The command writes the rest only once the test has seen its first line (or gives up after
    // 15 s), so "as it arrives" holds however slowly the pipes are read.
    const seen = join(dir, 'stream-seen');
    const script = [
      "import { existsSync } from 'node:fs';",
      'const until = Date.now() + 15000;',
      'for (let i = 0; i < 5; i++) {',
      '  process.stdout.write(`out ${i}\\n`);',
      '  process.stderr.write(`err ${i}\\n`);',
      '  while (i === 0 && !existsSync(process.env.SEEN) && Date.now() < until) {',
      '    await new Promise((r) => setTimeout(r, 10));',
      '  }',
      '  await new Promise((r) => setTimeout(r, 20));',
      '}',
    ].join('\n');
    const { outcome, output } = await run(
      { argv: [node, '--input-type=module', '-e', script], env: { SEEN: seen } },
      {},
      { onOutput: ({ stream }) => void (stream === 'stdout' && writeFileSync(seen, '')) },
    );
    resultOf(outcome);
    expect(text(output, 'stdout')).toBe('out 0\nout 1\nout 2\nout 3\nout 4\n');
    expect(text(output, 'stderr')).toBe('err 0\nerr 1\nerr 2\nerr 3\nerr 4\n');
    expect(output.filter((chunk) => chunk.stream === 'stdout').length).toBeGreaterThan(1); // as it arrives
  });

  it('decodes a multibyte character split across writes', async () => {
    const script = [
      'process.stdout.write(Buffer.from([0xe2, 0x82]));',
      'setTimeout(() => process.stdout.write(Buffer.from([0xac, 0x0a])), 50);',
    ].join('\n');
    const { outcome, output } = await run({ argv: [node, '-e', script] });
    expect(resultOf(outcome).stdoutTail).toBe('€\n');
    expect(text(output, 'stdout')).toBe('€\n');
  });

  it('keeps only the last 4 KiB of output in the result', async () => {
    const { outcome, output } = await run({
      argv: [node, '-e', "process.stdout.write('x'.repeat(10000) + 'END')"],
    });
    const tail = resultOf(outcome).stdoutTail as string;
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(4096);
    expect(tail.endsWith('xEND')).toBe(true);
    expect(text(output, 'stdout').length).toBe(10003);
  });

  it('sets CUDA_VISIBLE_DEVICES to the reserved GPUs, and to nothing without GPUs', async () => {
    const argv = ['sh', '-c', 'printf "[%s]" "${CUDA_VISIBLE_DEVICES-unset}"'];
    const withGpus = await run({ argv }, { gpus: [1, 3] });
    expect(resultOf(withGpus.outcome).stdoutTail).toBe('[1,3]');
    const withoutGpus = await run({ argv });
    expect(resultOf(withoutGpus.outcome).stdoutTail).toBe('[]');
  });

  it('numbers GPUs in PCI bus order, as nvidia-smi does, unless env says otherwise', async () => {
    const argv = ['sh', '-c', 'printf "%s" "$CUDA_DEVICE_ORDER"'];
    expect(resultOf((await run({ argv })).outcome).stdoutTail).toBe('PCI_BUS_ID');
    const fastest = await run({ argv, env: { CUDA_DEVICE_ORDER: 'FASTEST_FIRST' } });
    expect(resultOf(fastest.outcome).stdoutTail).toBe('FASTEST_FIRST');
  });

  it('passes env on top of the clean environment, and runs in cwd', async () => {
    const { outcome } = await run({
      argv: ['sh', '-c', 'printf "%s|%s|%s" "$GREETING" "$PWD" "${PATH:+has-path}"'],
      env: { GREETING: 'hi there' },
      cwd: dir,
    });
    const [greeting, cwd, path] = (resultOf(outcome).stdoutTail as string).split('|');
    expect(greeting).toBe('hi there');
    expect(cwd).toBe(dir);
    expect(path).toBe('has-path');
  });

  it('runs the command in a clean environment: the agent token and other agent variables stay out', async () => {
    const saved = { token: process.env.BATON_AGENT_TOKEN, secret: process.env.SOME_CLOUD_SECRET };
    process.env.BATON_AGENT_TOKEN = 'agent-token-that-must-not-leak';
    process.env.SOME_CLOUD_SECRET = 'cloud-secret-that-must-not-leak';
    try {
      const { outcome, output } = await run({ argv: ['env'] }, { gpus: [2] });
      const printed = text(output, 'stdout');
      expect(printed).not.toContain('must-not-leak');
      const names = printed
        .split('\n')
        .filter(Boolean)
        .map((line) => line.slice(0, line.indexOf('=')));
      const allowed = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'CUDA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER'];
      expect(names.filter((name) => !allowed.includes(name))).toEqual([]);
      expect(names).toEqual(expect.arrayContaining(['PATH', 'CUDA_VISIBLE_DEVICES']));
      expect(printed).toContain('CUDA_VISIBLE_DEVICES=2\n');
      resultOf(outcome);
    } finally {
      for (const [name, value] of [
        ['BATON_AGENT_TOKEN', saved.token],
        ['SOME_CLOUD_SECRET', saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("gives every command the operator's variables, which a job's env may override", async () => {
    const task = createCommandTask({ env: { LD_LIBRARY_PATH: '/opt/cuda/lib64', WANDB_MODE: 'offline' } });
    const argv = ['sh', '-c', 'printf "%s|%s" "$LD_LIBRARY_PATH" "$WANDB_MODE"'];
    expect(resultOf((await run({ argv }, {}, { task })).outcome).stdoutTail).toBe('/opt/cuda/lib64|offline');
    const overridden = await run({ argv, env: { WANDB_MODE: 'online' } }, {}, { task });
    expect(resultOf(overridden.outcome).stdoutTail).toBe('/opt/cuda/lib64|online');
  });

  it('refuses operator variables that cannot be set: CUDA_VISIBLE_DEVICES, or a name with "="', () => {
    expect(() => createCommandTask({ env: { CUDA_VISIBLE_DEVICES: '0' } })).toThrow(/CUDA_VISIBLE_DEVICES/);
    expect(() => createCommandTask({ env: { 'A=B': 'x' } })).toThrow(/A=B/);
  });

  it('fails clearly when cwd does not exist', async () => {
    const missing = join(dir, 'no-such-dir');
    const error = errorOf((await run({ argv: ['true'], cwd: missing })).outcome);
    expect(error.code).toBe('CWD_NOT_FOUND');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(missing);
  });

  it('fails with COMMAND_NOT_FOUND naming the program when it does not exist', async () => {
    const error = errorOf((await run({ argv: ['baton-no-such-program', '--flag'] })).outcome);
    expect(error).toEqual({
      code: 'COMMAND_NOT_FOUND',
      message: expect.stringContaining('baton-no-such-program'),
      retryable: false,
    });
  });

  it('fails with COMMAND_NOT_FOUND when the program is not executable', async () => {
    const file = join(dir, 'not-executable.sh');
    await writeFile(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const error = errorOf((await run({ argv: [file] })).outcome);
    expect(error.code).toBe('COMMAND_NOT_FOUND');
    expect(error.message).toContain(file);
  });

  it('kills the whole process group, grandchildren included, when the job times out', async () => {
    const pidFile = join(dir, 'timeout.pid');
    // Time enough for the shell to start and write its child's pid first, however loaded.
    const pending = run({ argv: ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`] }, { timeoutMs: 2000 });
    const grandchild = await readPid(pidFile);
    const error = errorOf((await pending).outcome);
    expect(error.code).toBe('TIMEOUT');
    // The outcome waits for the group: its GPUs are not handed on while it still runs.
    expect(running(grandchild)).toBe(false);
  });

  it('kills the whole process group when the job is cancelled', async () => {
    const pidFile = join(dir, 'cancel.pid');
    const abort = new JobAbort();
    const pending = run({ argv: ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`] }, {}, { abort });
    const grandchild = await readPid(pidFile);
    expect(running(grandchild)).toBe(true);
    abort.abort(Object.assign(new Error('job cancelled'), { code: 'CANCELLED' }));
    const error = errorOf((await pending).outcome);
    expect(error.code).toBe('CANCELLED');
    expect(running(grandchild)).toBe(false);
  });

  it('sends SIGKILL after the grace when the group ignores SIGTERM', async () => {
    const pidFile = join(dir, 'stubborn.pid');
    const abort = new JobAbort();
    const task = createCommandTask({ killGraceMs: 300 });
    // An ignored signal stays ignored in children: both sh and sleep shrug off SIGTERM.
    const pending = run(
      { argv: ['sh', '-c', `trap "" TERM; sleep 30 & echo $! > ${pidFile}; wait`] },
      {},
      { abort, task },
    );
    const grandchild = await readPid(pidFile);
    abort.abort(Object.assign(new Error('job cancelled'), { code: 'CANCELLED' }));
    expect(errorOf((await pending).outcome).code).toBe('CANCELLED');
    expect(running(grandchild)).toBe(false);
  });

  it('stops what the command left running in the background once it exits', async () => {
    const pidFile = join(dir, 'background.pid');
    const { outcome } = await run({ argv: ['sh', '-c', `sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}`] });
    resultOf(outcome);
    const leftover = await readPid(pidFile);
    await eventually(() => !running(leftover), `background process ${leftover} to die`);
  });

  it.each([
    ['a missing argv', {}, 'argv'],
    ['an empty argv', { argv: [] }, 'argv'],
    ['a non-string argv entry', { argv: ['echo', 42] }, 'argv.1'],
    ['an unknown field', { argv: ['true'], cwdd: '/tmp' }, 'cwdd'],
    [
      'env that sets CUDA_VISIBLE_DEVICES',
      { argv: ['true'], env: { CUDA_VISIBLE_DEVICES: '0' } },
      'env.CUDA_VISIBLE_DEVICES',
    ],
    ['a non-string env value', { argv: ['true'], env: { N: 1 } }, 'env.N'],
    ['env that sets LD_PRELOAD', { argv: ['true'], env: { LD_PRELOAD: '/tmp/hook.so' } }, 'env.LD_PRELOAD'],
    [
      'env that sets NODE_OPTIONS',
      { argv: ['true'], env: { NODE_OPTIONS: '--require /tmp/x.js' } },
      'env.NODE_OPTIONS',
    ],
    ['env that exports a bash function', { argv: ['true'], env: { 'BASH_FUNC_ls%%': '() { :; }' } }, 'BASH_FUNC_ls'],
    ['env that sets a BATON_ variable', { argv: ['true'], env: { BATON_AGENT_TOKEN: 'x' } }, 'env.BATON_AGENT_TOKEN'],
    ['an env name holding "="', { argv: ['true'], env: { 'A=B': 'x' } }, 'no "=" or NUL'],
    ['an env value holding NUL', { argv: ['true'], env: { A: 'x\u0000y' } }, 'env.A'],
    ['a payload that is not an object', null, 'object'],
  ])('rejects %s with INVALID_PAYLOAD naming the field', async (_what, payload, field) => {
    const error = errorOf((await run(payload)).outcome);
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(field);
  });
});
