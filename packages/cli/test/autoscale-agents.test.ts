import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonClient } from '@baton/client';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { processLauncher } from '../src/autoscale/agent-process.js';
import { Autoscaler } from '../src/autoscale/autoscaler.js';
import type { PoolDecision, ScalingSource } from '../src/autoscale/scaling-source.js';
import { configOf, decision } from './autoscale-fakes.js';

const AGENT_TOKEN = 'autoscale-agent-token-0123456789';
const ADMIN_TOKEN = 'autoscale-admin-token-0123456789';
const CONFIG = configOf({
  pools: {
    burst: {
      queues: ['burst'],
      max: 4,
      slotsPerAgent: 2,
      cooldownSeconds: 20,
      agentArgs: ['--demo', '--drain-grace-ms', '20000', '--log-level', 'warn'],
    },
  },
});

interface AgentJson {
  id: string;
  name: string;
  pool: string;
  state: string;
  slots: number;
  used: number;
  jobs: string[];
}

/**
 * Decisions scripted by the test, so each step of the supervisor (up, scale-in with a busy
 * agent, up again, shutdown) is reached exactly: `current` and `drain` are what GET
 * /api/scaling says, from GET /api/agents (connected agents of the pool; idle ones for
 * scale-in, never a busy one). The server's own decisions drive real agents in
 * test/autoscale-burst.test.ts.
 */
class ScriptedDesired implements ScalingSource {
  desired = 0;
  constructor(private readonly agents: () => Promise<AgentJson[]>) {}

  async decisions(): Promise<PoolDecision[]> {
    const pool = (await this.agents()).filter((a) => a.pool === 'burst' && a.state === 'connected');
    const idle = pool.filter((a) => a.used === 0 && a.jobs.length === 0);
    return [
      decision('burst', this.desired, {
        current: pool.length,
        reason: `scripted: ${this.desired}`,
        drain: idle.map((a) => a.id),
      }),
    ];
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('autoscaler with real baton agent processes', () => {
  let dir: string;
  let store: Store;
  let server: BatonServer;
  let url: string;
  let client: BatonClient;
  const output: string[] = [];
  let autoscaler: Autoscaler;

  const agents = async (): Promise<AgentJson[]> =>
    ((await client.agents()) as unknown as AgentJson[]).filter((a) => a.pool === 'burst');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-autoscale-e2e-'));
    store = await openStore(`sqlite:${join(dir, 'baton.db')}`);
    server = createBatonServer(store, { agentToken: AGENT_TOKEN, adminToken: ADMIN_TOKEN });
    url = await server.listen(0, '127.0.0.1');
    client = new BatonClient({ baseUrl: url, token: ADMIN_TOKEN });
  });

  afterAll(async () => {
    await autoscaler?.stop(5000);
    await server?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts agents that register in their pool and run its jobs, drains only idle ones, stops all', async () => {
    const source = new ScriptedDesired(agents);
    autoscaler = new Autoscaler({
      config: CONFIG,
      source,
      launcher: processLauncher({ agentToken: AGENT_TOKEN, output: (line) => output.push(line) }),
      serverUrl: url,
      log: (line) => output.push(line),
    });
    const explain = () => `autoscaler output:\n${output.join('\n')}`;
    autoscaler.start(200);

    // From zero to two: two `baton agent` processes register in pool burst, two slots each.
    source.desired = 2;
    const up = await until('two agents in pool burst', async () => {
      const a = await agents();
      return a.length === 2 && a.every((x) => x.state === 'connected') && a;
    });
    expect(up.map((a) => [a.name, a.slots]).sort(), explain()).toEqual([
      ['autoscale-burst-1', 2],
      ['autoscale-burst-2', 2],
    ]);
    expect(output, explain()).toContain('autoscale: pool burst 0 → 2 agents (reason: scripted: 2)');
    // The server may see an agent register before its own "connected" line comes down the pipe.
    await until('the autoscaler to see both connected', async () =>
      autoscaler.agents().every((c) => c.state === 'connected'),
    );
    expect(output.some((l) => l.startsWith('[autoscale-burst-1] agent autoscale-burst-1 connected to'))).toBe(true);
    const children = autoscaler.agents();
    expect(children.map((c) => c.agentId).sort()).toEqual(up.map((a) => a.id).sort());
    // The token went in the environment, never in argv.
    const pid = children[0]?.pid;
    if (pid !== undefined && existsSync(`/proc/${pid}/cmdline`)) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toContain('autoscale-burst-1');
      expect(argv.join(' ')).not.toContain(AGENT_TOKEN);
    }

    // They run the pool's jobs.
    const submitted = await Promise.all(
      Array.from({ length: 6 }, () => client.submit('demo.sleep', { ms: 100 }, { queue: 'burst' })),
    );
    const done = await Promise.all(
      submitted.map((s) => client.waitForJob(s.id, { signal: AbortSignal.timeout(60_000) })),
    );
    expect(done.map((j) => j.state)).toEqual(Array(6).fill('succeeded'));
    for (const job of done) expect(up.map((a) => a.id)).toContain(job.agentId);

    // One long job keeps one agent busy; scaling to zero drains only the idle one.
    const long = await client.submit('demo.sleep', { ms: 600_000 }, { queue: 'burst' });
    const busyId = await until('the long job to run', async () => {
      const job = await client.getJob(long.id);
      return job.state === 'running' && job.agentId;
    });
    const busy = children.find((c) => c.agentId === busyId);
    const idle = children.find((c) => c.agentId !== busyId);
    source.desired = 0;
    await until('the idle agent to exit', async () => !alive(idle?.pid) && autoscaler.agents().length === 1, 60_000);
    expect(output, explain()).toContain(`autoscale: ${idle?.name} exited (code 0)`);
    expect(autoscaler.agents().map((c) => c.name)).toEqual([busy?.name]);
    expect(alive(busy?.pid)).toBe(true);
    expect((await client.getJob(long.id)).state).toBe('running');
    expect((await agents()).map((a) => a.id)).not.toContain(idle?.agentId);

    // Once its job is gone, the busy one is idle too, and drains in turn.
    await client.cancel(long.id);
    await until('the last agent to exit', async () => !alive(busy?.pid) && autoscaler.agents().length === 0, 60_000);
    expect(output, explain()).toContain(`autoscale: ${busy?.name} exited (code 0)`);
    expect(
      output.some((l) => l.includes('unexpectedly')),
      explain(),
    ).toBe(false);
    await until('no agent left in pool burst', async () => (await agents()).length === 0, 30_000);

    // Up again, then shutdown: every child drains and exits.
    const drains = output.filter((l) => l.includes(': draining')).length;
    source.desired = 3;
    await until('three agents again', async () => (await agents()).filter((a) => a.state === 'connected').length === 3);
    await until('the autoscaler to see all three connected', async () =>
      autoscaler.agents().every((c) => c.state === 'connected'),
    );
    // Agents registering faster than their lines are read never looked like one too many.
    expect(output.filter((l) => l.includes(': draining')).length, explain()).toBe(drains);
    const pids = autoscaler.agents().map((c) => c.pid);
    await autoscaler.stop(20_000);
    expect(pids.filter(alive)).toEqual([]);
    expect(autoscaler.agents()).toEqual([]);
    expect(
      output.filter((l) => l.includes('killing')),
      explain(),
    ).toEqual([]);
  }, 180_000);
});
