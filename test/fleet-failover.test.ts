import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, api, job, startAgent, startBaton, startServer, until } from './fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-failover-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/**
 * Failover with real processes: a `baton server` and `baton agent` processes on loopback, with
 * short leases (2 s) so each scenario takes seconds.
 */
describe('failover across agent processes', () => {
  const procs: Proc[] = [];
  const track = <T extends Proc>(p: T): T => (procs.push(p), p);
  afterEach(() => {
    for (const p of procs.splice(0)) {
      p.kill('SIGCONT');
      p.kill('SIGKILL');
    }
  });

  const agentNamed = async (url: string, agentId: string): Promise<string> => {
    const { body } = await api(url, '/api/agents');
    return body.agents.find((a: { id: string }) => a.id === agentId)?.name;
  };

  it('kill -9 of an agent mid-job: the job succeeds on another agent with attempts 2', async () => {
    const { proc: server, url } = await startServer();
    track(server);
    const agents = new Map<string, Proc>();
    for (const name of ['a1', 'a2', 'a3'])
      agents.set(name, track(await startAgent(url, name, ['--demo', '--slots', '2'])));

    const { body: submitted } = await api(url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 3000 } });
    const running = await until('the job running', async () => {
      const j = await job(url, submitted.id);
      return j.state === 'running' ? j : undefined;
    });
    const victimName = await agentNamed(url, running.agentId);
    const victim = agents.get(victimName);
    expect(victim).toBeDefined();
    victim?.kill('SIGKILL');

    const done = await until('the job to succeed elsewhere', async () => {
      const j = await job(url, submitted.id);
      return j.state === 'succeeded' ? j : undefined;
    });
    expect(done.attempts).toBe(2);
    expect(done.history).toHaveLength(2);
    expect(done.history[0]).toMatchObject({ attempt: 1, agentId: running.agentId, outcome: 'lease_expired' });
    expect(done.history[1]).toMatchObject({ attempt: 2, outcome: 'succeeded' });
    expect(done.history[1].agentId).not.toBe(running.agentId);

    // The dead agent's capacity is gone.
    const { body } = await api(url, '/api/capacity');
    expect(body.result.totals.capacity).toBe(4);
  });

  it('a partitioned agent (SIGSTOP past its lease) cannot record a stale completion', async () => {
    const { proc: server, url } = await startServer();
    track(server);
    const p = track(await startAgent(url, 'partitioned', ['--demo', '--slots', '1']));
    const { body: submitted } = await api(url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 2500 } });
    const first = await until('the job running on the only agent', async () => {
      const j = await job(url, submitted.id);
      return j.state === 'running' ? j : undefined;
    });
    p.kill('SIGSTOP');
    // A second agent joins while the first is frozen; the job's lease runs out and it moves.
    track(await startAgent(url, 'healthy', ['--demo', '--slots', '1']));
    const done = await until('the job to succeed on the healthy agent', async () => {
      const j = await job(url, submitted.id);
      return j.state === 'succeeded' ? j : undefined;
    });
    expect(done.history[0]).toMatchObject({ agentId: first.agentId, outcome: 'lease_expired' });
    expect(done.history[1].agentId).not.toBe(first.agentId);

    p.kill('SIGCONT');
    // The thawed agent reports on a job that moved on: the store refuses it, and says so.
    await p.waitFor(new RegExp(`"jobId":"${submitted.id}"[^\\n]*"code":"(STALE_LEASE|FINISHED)"`));
    const after = await job(url, submitted.id);
    expect(after.state).toBe('succeeded');
    expect(after.history.filter((h: { outcome: string }) => h.outcome === 'succeeded')).toHaveLength(1);
    expect(after.history[1].agentId).toBe(done.history[1].agentId);
    // It reconnects under its old id and takes work again.
    await until('the thawed agent connected again', async () => {
      const { body } = await api(url, '/api/agents');
      return body.agents.some((a: { id: string; state: string }) => a.id === first.agentId && a.state === 'connected');
    });
  });

  it('SIGTERM drains an agent: no new work, its running job finishes, then it exits', async () => {
    const { proc: server, url } = await startServer();
    track(server);
    const d = track(await startAgent(url, 'drainer', ['--demo', '--slots', '4', '--drain-grace-ms', '20000']));
    const { body: long } = await api(url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 1500 } });
    await until('the job running', async () => (await job(url, long.id)).state === 'running');
    d.kill('SIGTERM');
    await d.waitFor(/draining 1 running job/);
    await until('the agent shown draining', async () => {
      const { body } = await api(url, '/api/agents');
      return body.agents[0]?.state === 'draining';
    });
    const { body: later } = await api(url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 10 } });
    const exit = await d.exited;
    expect(exit.code).toBe(0);
    expect(d.output()).toMatch(/agent stopped/);
    expect((await job(url, long.id)).state).toBe('succeeded');
    const waiting = await job(url, later.id);
    expect(waiting.state).toBe('queued');
    expect(waiting.attempts).toBe(0);
    expect(waiting.pendingReason.code).toBe('NO_AGENT_FOR_QUEUE');
    const { body: agents } = await api(url, '/api/agents');
    expect(agents.agents).toHaveLength(0);
  });

  it('an agent that comes back within its lease keeps its job: it runs once', async () => {
    const port = await freePort();
    const args = ['server', '--port', String(port), '--store', `sqlite:${join(dir, 'restart.db')}`];
    const flags = ['--agent-token', AGENT_TOKEN, '--lease-ms', '8000', '--heartbeat-ms', '200'];
    const first = track(startBaton([...args, ...flags]));
    const url = (await first.waitFor(/listening on (http:\/\/\S+)/))[1] as string;
    const agent = track(await startAgent(url, 'steady', ['--demo', '--slots', '1']));
    const { body: submitted } = await api(url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 3000 } });
    const running = await until('the job running', async () => {
      const j = await job(url, submitted.id);
      return j.state === 'running' ? j : undefined;
    });
    // The server dies and comes back on the same store; the agent's connection drops meanwhile.
    first.kill('SIGKILL');
    await first.exited;
    const second = track(startBaton([...args, ...flags]));
    await second.waitFor(/listening on/);
    await agent.waitFor(/reconnected to the server/);
    const done = await until('the job to succeed', async () => {
      const j = await job(url, submitted.id);
      return j.state === 'succeeded' ? j : undefined;
    });
    expect(done.attempts).toBe(1);
    expect(done.history).toHaveLength(1);
    expect(done.history[0]).toMatchObject({ agentId: running.agentId, outcome: 'succeeded' });
  });
});
