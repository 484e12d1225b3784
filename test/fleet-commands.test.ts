import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, api, job, startAgent, startBaton, startServer, until } from './fleet.js';

const finished = (url: string, id: string) =>
  until(`job ${id} final`, async () => {
    const j = await job(url, id);
    return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
  });

describe('command tasks on an agent process', () => {
  const procs: Proc[] = [];
  let url = '';
  beforeAll(async () => {
    const server = await startServer();
    procs.push(server.proc);
    url = server.url;
    procs.push(await startAgent(url, 'runner', ['--gpus', '8', '--allow-commands', '--slots', '8']));
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
  });

  it('succeeds on exit code 0 with the exit code, output tails and CUDA_VISIBLE_DEVICES', async () => {
    const { body } = await api(url, '/api/jobs', {
      task: 'command',
      payload: { argv: ['sh', '-c', 'echo "devices=$CUDA_VISIBLE_DEVICES x=$X"; echo warn >&2'], env: { X: '42' } },
      resources: { gpus: 4 },
    });
    const done = await finished(url, body.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toMatchObject({ exitCode: 0, signal: null });
    expect(done.result.stdoutTail).toBe(`devices=${done.gpus.join(',')} x=42\n`);
    expect(done.gpus).toHaveLength(4);
    expect(done.result.stderrTail).toBe('warn\n');
    const logs = await api(url, `/api/jobs/${body.id}/logs`);
    expect(logs.body).toContain(`devices=${done.gpus.join(',')} x=42\n`);
    expect(logs.body).toContain('warn\n');
    const stderr = await api(url, `/api/jobs/${body.id}/logs?stream=stderr&format=json`);
    expect(stderr.body.chunks.map((c: { data: string }) => c.data).join('')).toBe('warn\n');
  });

  it('a CPU-only command sees no GPUs', async () => {
    const { body } = await api(url, '/api/jobs', {
      task: 'command',
      payload: { argv: ['sh', '-c', 'echo "[$CUDA_VISIBLE_DEVICES]"'] },
    });
    const done = await finished(url, body.id);
    expect(done.result.stdoutTail).toBe('[]\n');
  });

  it('fails by exit code, retrying until attempts run out', async () => {
    const { body } = await api(url, '/api/jobs', {
      task: 'command',
      payload: { argv: ['sh', '-c', 'echo boom >&2; exit 3'] },
      maxAttempts: 2,
      backoffMs: 0,
    });
    const done = await finished(url, body.id);
    expect(done.state).toBe('failed');
    expect(done.attempts).toBe(2);
    expect(done.error.code).toBe('COMMAND_FAILED');
    expect(done.error.message).toMatch(/exited with code 3/);
    expect(done.error.message).toMatch(/boom/);
  });

  it('kills the command on timeout', async () => {
    const { body } = await api(url, '/api/jobs', {
      task: 'command',
      payload: { argv: ['sleep', '60'] },
      timeoutMs: 300,
      maxAttempts: 1,
    });
    const done = await finished(url, body.id);
    expect(done.state).toBe('failed');
    expect(done.error.code).toBe('TIMEOUT');
  });

  it('streams output live to a follower until the job ends', async () => {
    const { body } = await api(url, '/api/jobs', {
      task: 'command',
      payload: { argv: ['sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.2; done'] },
    });
    const response = await fetch(`${url}/api/jobs/${body.id}/logs?follow=true`);
    expect(response.status).toBe(200);
    const text = await response.text(); // ends when the job is final
    expect(text).toBe('line 1\nline 2\nline 3\n');
    expect((await job(url, body.id)).state).toBe('succeeded');
  });

  it('refuses a malformed command payload before it runs', async () => {
    const { body } = await api(url, '/api/jobs', { task: 'command', payload: { argv: [] }, maxAttempts: 3 });
    const done = await finished(url, body.id);
    expect(done.state).toBe('failed');
    expect(done.attempts).toBe(1);
    expect(done.error.code).toBe('INVALID_PAYLOAD');
  });
});

describe('agents without --allow-commands, and agent tokens', () => {
  const procs: Proc[] = [];
  let url = '';
  beforeAll(async () => {
    const server = await startServer();
    procs.push(server.proc);
    url = server.url;
    procs.push(await startAgent(url, 'plain', ['--demo']));
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
  });

  it('a fleet with no agent allowing commands refuses command jobs, naming the flag', async () => {
    const r = await api(url, '/api/jobs', { task: 'command', payload: { argv: ['true'] } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('UNKNOWN_TASK');
    expect(r.body.error.message).toMatch(/--allow-commands/);
  });

  it('a command job is never placed on an agent that does not allow commands', async () => {
    // One allowing agent makes the task known, then leaves; the plain agent must not take the job.
    const allowing = await startAgent(url, 'allowing', ['--allow-commands']);
    procs.push(allowing);
    allowing.kill('SIGTERM');
    expect((await allowing.exited).code).toBe(0);
    const { body } = await api(url, '/api/jobs', { task: 'command', payload: { argv: ['true'] } });
    const queued = await until('a pending reason', async () => {
      const j = await job(url, body.id);
      return j.pendingReason ? j : undefined;
    });
    expect(queued.state).toBe('queued');
    expect(queued.pendingReason.code).toBe('NO_AGENT_FOR_TASK');
  });

  it('refuses an agent with a wrong token: the agent exits 1 and says why', async () => {
    const p = startBaton(['agent', '--server', url, '--token', 'not-the-right-token', '--demo']);
    procs.push(p);
    const { code } = await p.exited;
    expect(code).toBe(1);
    expect(p.output()).toMatch(
      /baton: the server refused the agent token \(check --token, --token-file or BATON_AGENT_TOKEN\)/,
    );
    const { body } = await api(url, '/api/agents');
    expect(body.agents.map((a: { name: string }) => a.name)).toEqual(['plain']);
  });

  it('refuses a WebSocket without a token, or with a wrong one, with 401 before upgrading', async () => {
    const statusOf = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${url.replace('http', 'ws')}/api/agents/connect`, { headers });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => reject(new Error('upgraded without a valid token')));
        ws.on('error', () => {});
      });
    expect(await statusOf({})).toBe(401);
    expect(await statusOf({ authorization: 'Bearer wrong' })).toBe(401);
    expect(await statusOf({ authorization: `Bearer ${AGENT_TOKEN}x` })).toBe(401);
  });

  it('baton agent without a token or tasks is a usage error', async () => {
    const noToken = startBaton(['agent', '--server', url, '--demo'], { BATON_AGENT_TOKEN: '' });
    expect((await noToken.exited).code).toBe(2);
    expect(noToken.output()).toMatch(/--token is required/);
    const noTasks = startBaton(['agent', '--server', url, '--token', AGENT_TOKEN]);
    expect((await noTasks.exited).code).toBe(2);
    expect(noTasks.output()).toMatch(/nothing to run/);
  });
});
