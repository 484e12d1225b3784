import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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

/** A TCP relay to a server's port whose connections the test can cut, as a network would. */
async function relay(target: string): Promise<{ url: string; cut(): number; close(): void }> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(Number(port), hostname);
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    cut: () => {
      const n = open.size;
      for (const s of open) s.destroy();
      return n;
    },
    close: () => {
      for (const s of open) s.destroy();
      server.close();
    },
  };
}

const BIN = fileURLToPath(new URL('../packages/cli/bin/baton.js', import.meta.url));
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [BIN, ...args], { timeout: 20_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

/** Leases far longer than the tests: a job that moves was released, its lease did not run out. */
const LONG_LEASE = ['--lease-ms', '30000', '--agent-timeout-ms', '30000'];

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

  it('kill -9 of an agent mid-job: its job is released after the reconnect grace (AGENT_LOST) and succeeds elsewhere with attempts 2', async () => {
    // The default grace (3 s) and a 30 s lease: the job moves long before its lease runs out.
    const { proc: server, url } = await startServer(LONG_LEASE);
    track(server);
    const names = ['a1', 'a2', 'a3'];
    const started = await Promise.all(names.map((name) => startAgent(url, name, ['--demo', '--slots', '2'])));
    const agents = new Map(names.map((name, i) => [name, track(started[i]!)]));

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
    expect(done.history[0]).toMatchObject({
      attempt: 1,
      agentId: running.agentId,
      outcome: 'failed',
      error: { code: 'AGENT_LOST', retryable: true },
    });
    expect(done.history[1]).toMatchObject({ attempt: 2, outcome: 'succeeded' });
    expect(done.history[1].agentId).not.toBe(running.agentId);
    // The server says so: the agent was given up and its job released.
    const lost = await server.waitFor(/\{[^\n]*declared lost[^\n]*\}/);
    expect(JSON.parse(lost[0])).toMatchObject({ agentId: running.agentId, released: [submitted.id] });

    // The dead agent's capacity is gone.
    const { body } = await api(url, '/api/capacity');
    expect(body.result.totals.capacity).toBe(4);
  });

  it('an agent whose connection drops and that is back within the grace keeps its job: it runs once', async () => {
    const { proc: server, url } = await startServer(LONG_LEASE);
    track(server);
    const net = await relay(url);
    try {
      const agent = track(await startAgent(net.url, 'flaky', ['--demo', '--slots', '1']));
      const { body: submitted } = await api(url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 2500 } });
      const running = await until('the job running', async () => {
        const j = await job(url, submitted.id);
        return j.state === 'running' ? j : undefined;
      });
      // Somewhere for the job to go, were it released.
      track(await startAgent(url, 'spare', ['--demo', '--slots', '1']));
      expect(net.cut()).toBeGreaterThan(0);
      await server.waitFor(/agent disconnected/);
      await agent.waitFor(/reconnected to the server/);
      const done = await until('the job to succeed', async () => {
        const j = await job(url, submitted.id);
        return j.state === 'succeeded' ? j : undefined;
      });
      expect(done.attempts).toBe(1);
      expect(done.history).toHaveLength(1);
      expect(done.history[0]).toMatchObject({ agentId: running.agentId, outcome: 'succeeded' });
      expect(server.output()).not.toMatch(/declared lost|AGENT_LOST/);
    } finally {
      net.close();
    }
  });

  it('refuses a bad --reconnect-grace-ms with one line and exit code 2', async () => {
    const base = [
      'server',
      '--insecure-no-auth',
      '--store',
      'sqlite::memory:',
      '--port',
      '0',
      '--agent-token',
      AGENT_TOKEN,
    ];
    // Three independent processes, started at once.
    const [abc, fraction, longer] = await Promise.all([
      run([...base, '--reconnect-grace-ms', 'abc']),
      run([...base, '--reconnect-grace-ms', '1.5']),
      run([...base, '--agent-timeout-ms', '4000', '--reconnect-grace-ms', '5000']),
    ]);
    for (const [value, r] of [
      ['abc', abc],
      ['1.5', fraction],
    ] as const) {
      expect(r.code, value).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(/--reconnect-grace-ms must be an integer from 0/);
    }
    expect(longer.code).toBe(2);
    expect(longer.stderr).toMatch(/reconnectGraceMs \(5000\) must not be longer than agentTimeoutMs \(4000\)/);
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
    const args = [
      'server',
      '--insecure-no-auth',
      '--port',
      String(port),
      '--store',
      `sqlite:${join(dir, 'restart.db')}`,
    ];
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
