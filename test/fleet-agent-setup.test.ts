import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, api, job, startAgent, startBaton, startServer, until } from './fleet.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'baton-agent-setup-'));

describe('baton agent set-up: task modules and GPU detection', () => {
  const procs: Proc[] = [];
  let url = '';
  beforeAll(async () => {
    const server = await startServer();
    procs.push(server.proc);
    url = server.url;
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the tasks a --tasks module exports, on their queues', async () => {
    const agent = await startAgent(url, 'tasks', ['--tasks', fixture('tasks.mjs')]);
    procs.push(agent);
    const [, names] = await agent.waitFor(/, tasks (.*)\n/);
    expect(names?.split(', ').sort()).toEqual(['fixture.hello', 'fixture.noop']);
    const { body: tasks } = await api(url, '/api/tasks');
    expect(tasks.tasks).toEqual(
      expect.arrayContaining([
        { task: 'fixture.hello', queue: 'fixtures' },
        { task: 'fixture.noop', queue: 'fixtures' },
      ]),
    );
    const { body } = await api(url, '/api/jobs', { task: 'fixture.hello', payload: { name: 'fleet' } });
    const done = await until('the job', async () => {
      const j = await job(url, body.id);
      return j.state === 'succeeded' ? j : undefined;
    });
    expect(done.queue).toBe('fixtures');
    expect(done.result).toEqual({ greeting: 'hello fleet', attempt: 1 });
    expect((await api(url, `/api/jobs/${body.id}/logs`)).body).toBe('hello fleet\n');
  });

  it('refuses a missing module or one without tasks, exit 2', async () => {
    const missing = startBaton(['agent', '--server', url, '--token', AGENT_TOKEN, '--tasks', join(dir, 'nope.mjs')]);
    expect((await missing.exited).code).toBe(2);
    expect(missing.output()).toMatch(/--tasks: no such file/);
    const empty = startBaton(['agent', '--server', url, '--token', AGENT_TOKEN, '--tasks', fixture('no-tasks.mjs')]);
    expect((await empty.exited).code).toBe(2);
    expect(empty.output()).toMatch(/exports no tasks/);
  });

  it('detects GPUs with nvidia-smi on PATH and registers them', async () => {
    const script = join(dir, 'nvidia-smi');
    const lines = Array.from(
      { length: 4 },
      (_, i) => `${i}, GPU-0000000${i}-aaaa-bbbb-cccc-dddddddddddd, NVIDIA H100 80GB HBM3, 81559, 0, 3${i}`,
    );
    writeFileSync(script, `#!/bin/sh\ncat <<'EOF'\n${lines.join('\n')}\nEOF\n`);
    chmodSync(script, 0o755);
    const agent = await startAgent(url, 'detected', ['--allow-commands'], { PATH: `${dir}:${process.env.PATH ?? ''}` });
    procs.push(agent);
    await agent.waitFor(/GPUs \[0,1,2,3\]/);
    const { body } = await api(url, '/api/agents');
    const view = body.agents.find((a: { name: string }) => a.name === 'detected');
    expect(view.gpus).toHaveLength(4);
    expect(view.gpus[2]).toMatchObject({
      index: 2,
      uuid: 'GPU-00000002-aaaa-bbbb-cccc-dddddddddddd',
      name: 'NVIDIA H100 80GB HBM3',
      memoryMb: 81559,
      healthy: true,
    });
  });

  it('rejects a bad --tag before connecting, exit 2', async () => {
    const p = startBaton(['agent', '--server', url, '--token', AGENT_TOKEN, '--demo', '--tag', 'bad tag']);
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toMatch(/--tag "bad tag"/);
  });
});
