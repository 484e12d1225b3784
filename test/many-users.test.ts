import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runBaton } from '../packages/cli/test/baton-run.js';
import type { BatonProcess } from './baton-process.js';
import { startBatonListening } from './baton-process.js';

const ADMIN = 'many-users-admin-token-0123456789';
const AGENT = 'many-users-agent-token-0123456789';

/**
 * Issue 10's "done when", through the CLI against `baton dev` with auth on: two users submit
 * and each sees only their jobs; a user over maxGpus waits with the reason shown; a high job
 * preempts a low one on a preemptible agent (a `baton agent` process with two GPUs).
 */
describe('many users on one fleet, through the CLI', () => {
  let dev: BatonProcess;
  let agent: ChildProcess;
  let configDir: string;
  const tokens = new Map<string, string>();
  const as = async (user: string, ...args: string[]) => {
    const r = await runBaton([...args, '--server', dev.url], {
      BATON_CONFIG_DIR: configDir,
      BATON_TOKEN: user === 'admin' ? ADMIN : tokens.get(user),
    });
    expect(r.code, `${user}: baton ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const job = async (user: string, id: string) => JSON.parse(await as(user, 'job', id, '--json'));

  beforeAll(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'baton-many-users-'));
    dev = await startBatonListening(
      'dev',
      ['--store', 'sqlite::memory:', '--admin-token', ADMIN, '--agent-token', AGENT, '--agents', '0'],
      20_000,
      { env: { BATON_CONFIG_DIR: configDir } },
    );
    agent = spawn(
      process.execPath,
      [
        BIN,
        'agent',
        '--server',
        dev.url,
        '--demo',
        '--gpus',
        '2',
        '--slots',
        '4',
        '--preemptible',
        '--min-runtime-ms',
        '200',
        '--preempt-grace-ms',
        '1000',
      ],
      { stdio: 'ignore', env: { ...process.env, BATON_AGENT_TOKEN: AGENT } },
    );
    for (const user of ['ann', 'ben']) {
      await as('admin', 'users', 'add', user);
      tokens.set(user, (await as('admin', 'tokens', 'create', user)).trim());
    }
    for (const deadline = Date.now() + 15_000; ; ) {
      if (JSON.parse(await as('admin', 'agents', '--json')).agents.length === 1) break;
      if (Date.now() > deadline) throw new Error('the agent did not connect');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    agent?.kill('SIGINT');
    dev?.child.kill('SIGINT');
    await dev?.exited;
    rmSync(configDir, { recursive: true, force: true });
  });

  it('each user sees only their own jobs', async () => {
    const ids = new Map<string, string>();
    for (const user of ['ann', 'ben']) {
      const out = await as(
        user,
        'submit',
        'demo.echo',
        '--payload',
        JSON.stringify({ from: user }),
        '--wait',
        '--json',
      );
      ids.set(user, JSON.parse(out).id);
    }
    const listed = async (user: string) =>
      JSON.parse(await as(user, 'jobs', '--json')).jobs.map((j: { id: string }) => j.id);
    expect(await listed('ann')).toEqual([ids.get('ann')]);
    expect(await listed('ben')).toEqual([ids.get('ben')]);
    expect((await listed('admin')).sort()).toEqual([...ids.values()].sort());
    const other = await runBaton(['job', ids.get('ben')!, '--server', dev.url], {
      BATON_CONFIG_DIR: configDir,
      BATON_TOKEN: tokens.get('ann'),
    });
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/JOB_NOT_FOUND/);
  });

  it('a user over maxGpus waits, with the reason shown', async () => {
    await as('admin', 'quota', 'set', 'ann', '--max-gpus', '1');
    const id = JSON.parse(await as('ann', 'submit', 'demo.echo', '--gpus', '2', '--json')).id;
    await expect
      .poll(async () => (await job('ann', id)).pendingReason?.code, { timeout: 10_000 })
      .toBe('QUOTA_MAX_GPUS');
    expect(await as('ann', 'job', id)).toMatch(/QUOTA_MAX_GPUS/);
    await as('admin', 'quota', 'reset', 'ann');
    await expect.poll(async () => (await job('ann', id)).state, { timeout: 10_000 }).toBe('succeeded');
  });

  it('a high-priority job preempts a low one on the preemptible agent; the low one runs again', async () => {
    const low = JSON.parse(
      await as(
        'ben',
        'submit',
        'demo.sleep',
        '--payload',
        // Long enough to still run when the high job comes, however slowly a loaded machine
        // starts the CLI that submits it.
        '{"ms":8000}',
        '--gpus',
        '2',
        '--priority',
        'low',
        '--max-attempts',
        '1',
        '--json',
      ),
    ).id;
    await expect.poll(async () => (await job('ben', low)).state, { timeout: 10_000 }).toBe('running');
    const high = JSON.parse(await as('ann', 'submit', 'demo.echo', '--gpus', '2', '--priority', 'high', '--json')).id;
    await expect.poll(async () => (await job('ann', high)).state, { timeout: 15_000 }).toBe('succeeded');
    const done = await (async () => {
      await expect.poll(async () => (await job('ben', low)).state, { timeout: 40_000 }).toBe('succeeded');
      return job('ben', low);
    })();
    expect(done.history.map((a: { outcome: string }) => a.outcome)).toEqual(['preempted', 'succeeded']);
    expect(done.maxAttempts).toBe(2);
  }, 90_000);
});
