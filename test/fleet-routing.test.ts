import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, api, job, startAgent, startBaton, startServer, until } from './fleet.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const queueList = (n: number) => Array.from({ length: n }, (_, i) => `q${i}`).join(',');

describe('routes: an agent serves each of its tasks on every queue it takes', () => {
  const procs: Proc[] = [];
  let url = '';
  beforeAll(async () => {
    const server = await startServer();
    procs.push(server.proc);
    url = server.url;
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
  });

  it('a command job sent to a queue named by --queues runs on that agent', async () => {
    procs.push(await startAgent(url, 'gpu-box', ['--allow-commands', '--queues', 'gpu', '--slots', '2']));
    const { body: routes } = await api(url, '/api/tasks');
    expect(routes.tasks).toEqual(
      expect.arrayContaining([
        { task: 'command', queue: 'gpu' },
        { task: 'command', queue: 'default' },
      ]),
    );
    const submitted = await api(url, '/api/jobs', { task: 'command', queue: 'gpu', payload: { argv: ['true'] } });
    expect(submitted.status).toBe(201);
    const done = await until('the command job', async () => {
      const j = await job(url, submitted.body.id);
      return ['succeeded', 'failed'].includes(j.state) ? j : undefined;
    });
    expect(done).toMatchObject({ state: 'succeeded', queue: 'gpu', result: { exitCode: 0 } });
    const { body: agents } = await api(url, '/api/agents');
    expect(agents.agents.find((a: { name: string }) => a.name === 'gpu-box').queues.sort()).toEqual(['default', 'gpu']);
  });

  it('refuses a registration of more task routes than the limit, naming it', async () => {
    // 200 tasks on 50 named queues and their own: 200 × 51 = 10 200 routes.
    const p = startBaton(
      [
        'agent',
        '--server',
        url,
        '--token',
        AGENT_TOKEN,
        '--tasks',
        fixture('many-tasks.mjs'),
        '--queues',
        queueList(50),
      ],
      { FIXTURE_TASK_COUNT: '200' },
    );
    procs.push(p);
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toMatch(
      /refused this agent's registration \(INVALID_REGISTRATION\): .*200 tasks on 51 queues, 10200 task routes; the limit is 10000 per agent/,
    );
    const { body } = await api(url, '/api/tasks');
    expect(body.tasks.some((r: { task: string }) => r.task.startsWith('many.'))).toBe(false);
  });

  it('refuses more than 100 queues or 1000 tasks, naming the limit', async () => {
    const queues = startBaton(['agent', '--server', url, '--token', AGENT_TOKEN, '--demo', '--queues', queueList(101)]);
    const tasks = startBaton(['agent', '--server', url, '--token', AGENT_TOKEN, '--tasks', fixture('many-tasks.mjs')], {
      FIXTURE_TASK_COUNT: '1001',
    });
    procs.push(queues, tasks);
    expect((await queues.exited).code).toBe(1);
    expect(queues.output()).toMatch(/registration.queues holds 101 entries; the limit is 100/);
    expect((await tasks.exited).code).toBe(1);
    expect(tasks.output()).toMatch(/registration.tasks holds 1001 entries; the limit is 1000/);
  });
});

describe('baton agent on SIGTERM', () => {
  const procs: Proc[] = [];
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
  });

  /** The agent's exit, or 'still running' if it has not exited within `ms`. */
  const exitWithin = (p: Proc, ms: number) =>
    Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('still running'), ms).unref())]);

  it('exits at once with code 0 when its server is gone and no job runs', async () => {
    const { proc: server, url } = await startServer();
    procs.push(server);
    const agent = await startAgent(url, 'orphan', ['--demo']);
    procs.push(agent);
    server.kill('SIGKILL');
    await agent.waitFor(/lost the connection to the server/);
    agent.kill('SIGTERM');
    // Before, it waited for its drain request to time out (30 s).
    expect(await exitWithin(agent, 15_000)).toEqual({ code: 0, signal: null });
    expect(agent.output()).toMatch(/no running jobs and no connection to the server; leaving now/);
    expect(agent.output()).toMatch(/agent stopped/);
  }, 30_000);

  it('still drains a running job when its server is gone', async () => {
    const { proc: server, url } = await startServer();
    procs.push(server);
    const agent = await startAgent(url, 'busy', ['--demo', '--drain-grace-ms', '20000']);
    procs.push(agent);
    const { body } = await api(url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 60_000 } });
    await until('the job running', async () => (await job(url, body.id)).state === 'running');
    server.kill('SIGKILL');
    await agent.waitFor(/lost the connection to the server/);
    agent.kill('SIGTERM');
    await agent.waitFor(/draining 1 running job\(s\), up to 20000 ms/);
    expect(agent.output()).not.toMatch(/leaving now/);
  }, 30_000);
});
