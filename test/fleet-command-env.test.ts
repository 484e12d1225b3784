import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, FAST, api, job, startBaton, startServer, until } from './fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-command-env-'));
const SECRET = 'cloud-secret-of-the-agent-7f3a';

async function finished(url: string, id: string) {
  return until(`job ${id} to finish`, async () => {
    const j = await job(url, id);
    return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
  });
}

/** Starts `baton agent ARGS` and waits until it is registered. */
async function agent(url: string, args: string[], env: Record<string, string> = {}): Promise<Proc> {
  const proc = startBaton(['agent', '--server', url, ...args], env);
  await proc.waitFor(/connected to .* as (agent-\S+):/);
  return proc;
}

function tokenFile(name: string, content: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

describe('what a command job sees of its agent', () => {
  const procs: Proc[] = [];
  let url = '';
  let agentProc: Proc;
  beforeAll(async () => {
    const server = await startServer();
    procs.push(server.proc);
    url = server.url;
    // The token comes in the environment, as docs recommend, next to a credential of the machine.
    agentProc = await agent(
      url,
      [
        '--name',
        'cmd',
        '--allow-commands',
        '--pass-env',
        'SHARED_CACHE,NOT_SET_ANYWHERE',
        '--command-env',
        'WANDB_MODE=offline',
      ],
      { BATON_AGENT_TOKEN: AGENT_TOKEN, SOME_CLOUD_SECRET: SECRET, SHARED_CACHE: '/scratch/cache' },
    );
    procs.push(agentProc);
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
  });

  it('runs `env` without the agent token or any other variable of the agent', async () => {
    const { body } = await api(url, '/api/jobs', { task: 'command', payload: { argv: ['env'] } });
    const done = await finished(url, body.id);
    expect(done.state).toBe('succeeded');
    const logs = (await api(url, `/api/jobs/${body.id}/logs`)).body as string;
    expect(logs).toContain('PATH=');
    expect(logs).not.toContain(AGENT_TOKEN);
    expect(logs).not.toContain(SECRET);
    expect(JSON.stringify(done.result)).not.toContain(AGENT_TOKEN);
    expect(logs).not.toMatch(/^BATON_/m);
  });

  it('gives commands what the operator passes with --pass-env and sets with --command-env', async () => {
    const { body } = await api(url, '/api/jobs', { task: 'command', payload: { argv: ['env'] } });
    await finished(url, body.id);
    const logs = (await api(url, `/api/jobs/${body.id}/logs`)).body as string;
    expect(logs).toMatch(/^SHARED_CACHE=\/scratch\/cache$/m);
    expect(logs).toMatch(/^WANDB_MODE=offline$/m);
    expect(logs).not.toContain('NOT_SET_ANYWHERE');
    expect(agentProc.output()).toMatch(/warning: --pass-env NOT_SET_ANYWHERE: not set in the agent's environment/);
  });

  it.each([
    ['LD_PRELOAD', { LD_PRELOAD: '/tmp/hook.so' }, 'payload.env.LD_PRELOAD: may not be set by a job'],
    ['NODE_OPTIONS', { NODE_OPTIONS: '--require /tmp/x.js' }, 'payload.env.NODE_OPTIONS'],
    ['PYTHONPATH', { PYTHONPATH: '/tmp/evil' }, 'payload.env.PYTHONPATH'],
    ['BATON_AGENT_TOKEN', { BATON_AGENT_TOKEN: 'x' }, 'payload.env.BATON_AGENT_TOKEN: may not be set'],
    ['a name with "="', { 'A=B': 'x' }, 'payload.env.A=B: variable names'],
    ['a value with NUL', { A: 'x\u0000y' }, 'payload.env.A: must not contain NUL'],
    ['a non-string value', { A: 1 }, 'payload.env.A: values must be strings'],
  ])('refuses a command job whose env sets %s with 400 before it is stored', async (_what, env, message) => {
    const r = await api(url, '/api/jobs', { task: 'command', payload: { argv: ['true'], env } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_FAILED');
    expect(r.body.error.message).toContain(message);
  });

  it('refuses a bulk submission naming the job whose env is refused, and stores none of it', async () => {
    const before = (await api(url, '/api/jobs?limit=100')).body.jobs.length;
    const r = await api(url, '/api/jobs/bulk', {
      jobs: [
        { task: 'command', payload: { argv: ['true'] } },
        { task: 'command', payload: { argv: ['true'], env: { LD_AUDIT: '/tmp/a.so' } } },
      ],
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('jobs.1.payload.env.LD_AUDIT');
    expect((await api(url, '/api/jobs?limit=100')).body.jobs.length).toBe(before);
  });

  it('takes ordinary variables, and leaves the env of other tasks alone', async () => {
    const { status, body } = await api(url, '/api/jobs', {
      task: 'command',
      payload: { argv: ['sh', '-c', 'printf %s "$PYTHONUNBUFFERED"'], env: { PYTHONUNBUFFERED: '1' } },
    });
    expect(status).toBe(201);
    expect((await finished(url, body.id)).result.stdoutTail).toBe('1');
  });
});

describe('baton agent --pass-env and --command-env mistakes', () => {
  it.each([
    [['--allow-commands', '--command-env', 'NO_EQUALS'], /--command-env "NO_EQUALS": expected NAME=VALUE/],
    [['--allow-commands', '--pass-env', 'CUDA_VISIBLE_DEVICES'], /--pass-env CUDA_VISIBLE_DEVICES: the agent sets it/],
    [['--allow-commands', '--pass-env', 'BATON_AGENT_TOKEN'], /the agent token is never given to commands/],
    [['--demo', '--pass-env', 'HOME'], /--pass-env and --command-env are for command tasks: add --allow-commands/],
  ])('baton agent %j is a usage error', async (args, message) => {
    const p = startBaton(['agent', '--server', 'http://127.0.0.1:9', '--token', AGENT_TOKEN, ...args]);
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toMatch(message);
  });
});

describe('agent tokens kept out of the command line', () => {
  const procs: Proc[] = [];
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('baton server --agent-token-file and baton agent --token-file: a job runs, no token in argv or output', async () => {
    const file = tokenFile('token', `${AGENT_TOKEN}\n`);
    const server = startBaton(
      [
        'server',
        '--insecure-no-auth',
        '--port',
        '0',
        '--store',
        'sqlite::memory:',
        '--agent-token-file',
        file,
        ...FAST,
      ],
      {
        BATON_AGENT_TOKEN: '',
      },
    );
    procs.push(server);
    const [, url] = await server.waitFor(/listening on (http:\/\/\S+)/);
    const hint = (await server.waitFor(/ {2}agents: .*\n/))[0];
    expect(hint).toContain('--token-file FILE');
    expect(server.output()).not.toContain(AGENT_TOKEN);

    const agentProc = await agent(url!, ['--token-file', file, '--demo'], { BATON_AGENT_TOKEN: '' });
    procs.push(agentProc);
    const cmdline = readFileSync(`/proc/${agentProc.child.pid}/cmdline`, 'utf8');
    expect(cmdline).toContain('--token-file');
    expect(cmdline).not.toContain(AGENT_TOKEN);
    expect(agentProc.output()).not.toMatch(/warning/);
    const { body } = await api(url!, '/api/jobs', { task: 'demo.echo', payload: { hello: 1 } });
    expect((await finished(url!, body.id)).state).toBe('succeeded');
  });

  it('a server that generates its token prints it as an environment variable, not a --token argument', async () => {
    const server = startBaton(['server', '--insecure-no-auth', '--port', '0', '--store', 'sqlite::memory:']);
    procs.push(server);
    const hint = (await server.waitFor(/ {2}agents: .*\n/))[0];
    expect(hint).toMatch(/agents: BATON_AGENT_TOKEN=\S{16,} baton agent --server http:\/\/\S+ \[--gpus N\]/);
    expect(hint).not.toContain('--token');
    server.kill('SIGTERM');
    await server.exited;
  });

  it('warns when the token file can be read by group or others', async () => {
    const file = tokenFile('open-token', AGENT_TOKEN, 0o644);
    const p = startBaton(['agent', '--server', 'http://127.0.0.1:9', '--token-file', file]);
    expect((await p.exited).code).toBe(2); // nothing to run: the token was read first
    expect(p.output()).toMatch(
      /warning: --token-file: .*open-token can be read by group or others \(mode 644\); chmod 600 it/,
    );
  });

  it.each([
    ['a missing file', () => ['--token-file', join(dir, 'nope')], /--token-file: no such file .*nope/],
    ['an empty file', () => ['--token-file', tokenFile('empty', '\n')], /--token-file: .*empty is empty/],
    ['a directory', () => ['--token-file', dir], /--token-file: .* is a directory/],
    [
      'a file of several lines',
      () => ['--token-file', tokenFile('lines', 'a-token-line-one\nsecond\n')],
      /holds several lines/,
    ],
    [
      'both --token and --token-file',
      () => ['--token', AGENT_TOKEN, '--token-file', tokenFile('both', AGENT_TOKEN)],
      /give --token or --token-file, not both/,
    ],
  ])('baton agent with %s is a usage error', async (_what, args, message) => {
    const p = startBaton(['agent', '--server', 'http://127.0.0.1:9', '--demo', ...args()]);
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toMatch(message);
  });

  it('baton server with both --agent-token and --agent-token-file is a usage error', async () => {
    const file = tokenFile('server-both', AGENT_TOKEN);
    const p = startBaton([
      'server',
      '--insecure-no-auth',
      '--port',
      '0',
      '--agent-token',
      AGENT_TOKEN,
      '--agent-token-file',
      file,
    ]);
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toMatch(/give --agent-token or --agent-token-file, not both/);
  });

  it('baton server with a missing --agent-token-file is a usage error', async () => {
    const p = startBaton([
      'server',
      '--insecure-no-auth',
      '--port',
      '0',
      '--store',
      'sqlite::memory:',
      '--agent-token-file',
      join(dir, 'nope'),
    ]);
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toMatch(/--agent-token-file: no such file/);
  });
});
