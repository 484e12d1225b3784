import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { shardOfQueue } from '@baton/core';
import { AGENT_TOKEN, FAST, api, job, startAgent, startBaton, until } from './fleet.js';
import { dropRedisKeys } from './networked-stores.js';

/**
 * Many servers on one networked store, with real processes: three `baton server`s on one
 * PostgreSQL schema (or Redis prefix), agents connected to different servers, jobs submitted to
 * any server. Each server places work on the agents connected to it; the store's atomic assign
 * keeps a job from being assigned twice, and its events (NOTIFY, pub/sub) reach every server.
 */
const run = randomBytes(4).toString('hex');
const BACKENDS = [
  {
    name: 'PostgreSQL',
    url: (k: number) => `postgres://root@127.0.0.1:5432/test?schema=scaleout_${run}_${k}`,
    cleanup: () => {
      for (const k of [1, 2]) {
        const drop = `DROP SCHEMA IF EXISTS scaleout_${run}_${k} CASCADE`;
        execFileSync('psql', ['-h', '127.0.0.1', '-U', 'root', '-q', 'test', '-c', drop]);
      }
    },
  },
  {
    name: 'Redis',
    url: (k: number) => `redis://127.0.0.1:6379?prefix=scaleout_${run}_${k}`,
    cleanup: () => dropRedisKeys(`{scaleout_${run}_*`),
  },
];

// Each test has a store of its own: servers of one test must not count as live schedulers in another.
describe.each(BACKENDS)('three servers and two agents on $name', ({ url: storeOf, cleanup }) => {
  const procs: Proc[] = [];
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    cleanup();
  });

  let store = '';
  const startServer = async () => {
    const proc = startBaton([
      'server',
      '--insecure-no-auth',
      '--port',
      '0',
      '--store',
      store,
      '--agent-token',
      AGENT_TOKEN,
      ...FAST,
    ]);
    procs.push(proc);
    return { proc, url: (await proc.waitFor(/listening on (http:\/\/\S+)/))[1] as string };
  };

  it('runs jobs submitted to any server on agents of other servers, once each, through a server crash', async () => {
    store = storeOf(1);
    const servers = await Promise.all([startServer(), startServer(), startServer()]);
    const [s1, s2, s3] = servers as [(typeof servers)[0], (typeof servers)[0], (typeof servers)[0]];
    // Agent A knows servers 1 and 3: when server 1 dies it moves to server 3 and keeps its jobs.
    const [a, b] = await Promise.all([
      startAgent(`${s1.url},${s3.url}`, 'agent-a', ['--demo', '--slots', '3']),
      startAgent(s2.url, 'agent-b', ['--demo', '--slots', '3']),
    ]);
    procs.push(a, b);

    // Any server shows the whole fleet: agents of every server, capacity added up.
    await until('the fleet seen from server 3', async () => {
      const { body } = await api(s3.url, '/api/capacity');
      return body.result.totals.capacity === 6;
    });
    const { body: fleet } = await api(s3.url, '/api/agents');
    expect(fleet.agents.map((x: { name: string }) => x.name).sort()).toEqual(['agent-a', 'agent-b']);
    expect(new Set(fleet.agents.map((x: { serverId: string }) => x.serverId)).size).toBe(2);

    // A client's event stream on server 3 hears what happens through the others.
    const heard: { type: string; queues?: string[]; jobId?: string }[] = [];
    const stream = new WebSocket(`${s3.url.replace('http', 'ws')}/api/events?types=enqueued,cancelled`);
    stream.on('message', (data) => heard.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => stream.once('open', resolve).once('error', reject));

    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const server = servers[i % 3]!;
      const { status, body } = await api(server.url, '/api/jobs', {
        task: 'demo.sleep',
        payload: { ms: 100 + (i % 5) * 100 },
      });
      expect(status).toBe(201);
      ids.push(body.id);
    }
    await until('enqueue events from the other servers', async () => heard.some((e) => e.type === 'enqueued'));
    // Crash server 1 while work is in flight; agent A reconnects to server 3.
    await until('agent A running jobs', async () => {
      const { body } = await api(s1.url, '/api/agents');
      return body.agents?.some((x: { name: string; jobs: string[] }) => x.name === 'agent-a' && x.jobs.length > 0);
    });
    s1.proc.kill('SIGKILL');
    await a.waitFor(/reconnected to the server/);
    for (let i = 0; i < 10; i++) {
      const { body } = await api(servers[1 + (i % 2)]!.url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 100 } });
      ids.push(body.id);
    }

    const done = await until(
      'every job final',
      async () => {
        const jobs = await Promise.all(ids.map((id) => job(s2.url, id)));
        return jobs.every((j) => j.state === 'succeeded') ? jobs : undefined;
      },
      60_000,
    );
    const agentsUsed = new Set(done.map((j) => j.agentId));
    expect(agentsUsed.size).toBe(2);
    for (const j of done) {
      // Never assigned twice at once: attempts follow one another, and exactly one succeeded.
      expect(j.history.filter((h: { outcome: string }) => h.outcome === 'succeeded')).toHaveLength(1);
      // Attempts follow one another. Each timestamp is the writer's clock read as its store call
      // began: an assign that waited on the row lock of the requeue before it may stamp a few ms
      // earlier than that requeue did (seen: 2 ms), so a second of skew is allowed; an overlap of
      // real attempts would show as far more, and twice-run jobs are caught by `wins` above.
      const SKEW_MS = 1000;
      for (let k = 1; k < j.history.length; k++) {
        expect(Date.parse(j.history[k].assignedAt)).toBeGreaterThanOrEqual(
          Date.parse(j.history[k - 1].finishedAt) - SKEW_MS,
        );
      }
    }
    // A job running on an agent of one server is cancelled through another.
    const { body: long } = await api(s3.url, '/api/jobs', { task: 'demo.sleep', payload: { ms: 30_000 } });
    const running = await until('the long job running', async () => {
      const j = await job(s2.url, long.id);
      return j.state === 'running' ? j : undefined;
    });
    // The agent's server (server 2 hosts agent B; server 3 now hosts agent A); cancel on the other.
    const heldBy = async (server: { url: string }) =>
      ((await api(server.url, '/api/agents')).body.agents as { id: string; jobs: string[] }[]).some((x) =>
        x.jobs.includes(long.id),
      );
    const host = (await heldBy(s2)) ? s2 : s3;
    const other = host === s2 ? s3 : s2;
    const cancelled = await api(other.url, `/api/jobs/${long.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    // The store's event crosses to the host server, which stops the job on its agent.
    await until('the agent to let go of the cancelled job', async () => !(await heldBy(host)), 10_000);
    await until('the cancel heard on server 3', async () =>
      heard.some((e) => e.type === 'cancelled' && e.jobId === long.id),
    );
    stream.close();
    expect(running.agentId).toBeTruthy();
    expect((await job(s3.url, long.id)).state).toBe('cancelled');
  }, 120_000);

  it('moves the shards of a killed scheduler to the others; no job is ever assigned twice', async () => {
    store = storeOf(2);
    for (const p of procs.splice(0)) p.kill('SIGKILL');
    const servers = await Promise.all([startServer(), startServer(), startServer()]);
    const urls = servers.map((x) => x.url);
    // Each agent knows every server, its own first, so it outlives any one of them.
    const rotate = (k: number) => [...urls.slice(k), ...urls.slice(0, k)].join(',');
    procs.push(
      ...(await Promise.all([
        startAgent(rotate(1), 'agent-a', ['--demo', '--slots', '3']),
        startAgent(rotate(2), 'agent-b', ['--demo', '--slots', '3']),
      ])),
    );

    // The scheduler owning the shard of queue "default" (any of the three, by consistent hashing).
    const shards = async (url: string) =>
      (await api(url, '/api/shards')).body as {
        serverId: string;
        owned: number[];
        leases: { shard: number; owner: string }[];
      };
    const views = await until('every shard leased', async () => {
      const all = await Promise.all(urls.map(shards));
      return all.reduce((n, v) => n + v.owned.length, 0) === 64 ? all : undefined;
    });
    const shard = shardOfQueue('default');
    const ownerIndex = views.findIndex((v) => v.owned.includes(shard));
    expect(ownerIndex).toBeGreaterThanOrEqual(0);
    const owner = servers[ownerIndex]!;
    const survivors = servers.filter((x) => x !== owner);

    const ids: string[] = [];
    // A mixed workload: sleeps and echoes at every priority, and jobs that fail until their
    // attempts run out.
    const expected = new Map<string, 'succeeded' | 'failed'>();
    const kinds = [
      { task: 'demo.sleep', payload: { ms: 150 }, priority: 'high' },
      { task: 'demo.echo', payload: { n: 1 }, priority: 'low' },
      { task: 'demo.sleep', payload: { ms: 50 }, priority: 'normal' },
      { task: 'demo.fail', payload: {}, maxAttempts: 2, backoffMs: 0 },
    ];
    const submit = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const kind = kinds[ids.length % kinds.length]!;
        const { body } = await api(survivors[i % 2]!.url, '/api/jobs', kind);
        ids.push(body.id);
        expected.set(body.id, kind.task === 'demo.fail' ? 'failed' : 'succeeded');
      }
    };
    await submit(12);
    const killedAt = Date.now();
    owner.proc.kill('SIGKILL');
    await submit(12);
    let last: { id: string; state: string; task: string; attempts: number; agentId: string; pendingReason: unknown }[] =
      [];
    const takenBy = await until(
      'another scheduler to hold the shard',
      async () => {
        const { leases } = await shards(survivors[0]!.url);
        const lease = leases.find((l) => l.shard === shard);
        return lease && lease.owner !== views[ownerIndex]!.serverId ? lease.owner : undefined;
      },
      30_000,
    );
    // Seen here: a little over FAST's 2 s shard lease (it may have been renewed just before the kill).
    process.stderr.write(`shard ${shard} moved to ${takenBy} ${Date.now() - killedAt} ms after the kill\n`);
    await submit(12);

    const done = await until(
      'every job final',
      async () => {
        const jobs = await Promise.all(ids.map((id) => job(survivors[0]!.url, id)));
        last = jobs.filter((j) => j.state !== 'succeeded' && j.state !== 'failed');
        return last.length === 0 ? jobs : undefined;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${JSON.stringify(last.map((j) => [j.task, j.state, j.attempts, j.agentId, j.pendingReason]))}`,
      );
    });
    // The store's assignment history: each job handed out once at a time, ending as it should
    // (a failing job exactly after its two attempts), nothing lost, nothing run twice.
    for (const j of done) {
      expect(j.state).toBe(expected.get(j.id));
      const wins = j.history.filter((h: { outcome: string }) => h.outcome === 'succeeded');
      expect(wins).toHaveLength(j.state === 'succeeded' ? 1 : 0);
      if (j.state === 'failed') expect(j.attempts).toBe(2);
      // Attempts follow one another. Each timestamp is the writer's clock read as its store call
      // began: an assign that waited on the row lock of the requeue before it may stamp a few ms
      // earlier than that requeue did (seen: 2 ms), so a second of skew is allowed; an overlap of
      // real attempts would show as far more, and twice-run jobs are caught by `wins` above.
      const SKEW_MS = 1000;
      for (let k = 1; k < j.history.length; k++) {
        expect(Date.parse(j.history[k].assignedAt)).toBeGreaterThanOrEqual(
          Date.parse(j.history[k - 1].finishedAt) - SKEW_MS,
        );
      }
    }
  }, 120_000);
});
