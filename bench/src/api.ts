import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { openStore } from '@baton/store';
import type { LoadReport } from './api-load.js';
import { benchUserToken } from './bench-server.js';
import { redisConnection } from './peers/bullmq-api.js';
import { round } from './stats.js';
import type { BatonChild } from './processes.js';
import { BATON_BIN as BIN, startNode } from './processes.js';
import { atMost, sleep } from './waits.js';

const LOAD = fileURLToPath(new URL('./api-load.js', import.meta.url));
const PEER = fileURLToPath(new URL('./peers/bullmq-api.js', import.meta.url));

export interface ApiOptions {
  /** Baton's store URL; absent or `sqlite:`: a fresh SQLite file in a temp folder. Not `sqlite::memory:`. */
  store?: string;
  clients: number;
  seconds: number;
  /** The peer to run after Baton, on the same load: `bullmq` (fastify + BullMQ on Redis) or `none`. */
  peer: 'bullmq' | 'none';
  /** Unmeasured seconds before the window. Default 1. */
  warmupS?: number;
  /** The peer's Redis (a db of its own). Default redis://127.0.0.1:6379/12. */
  peerRedis?: string;
  /** Baton's agent process: `process` (a `baton agent --demo` runs the jobs) or `none` (a route only). Default process. */
  agent?: 'process' | 'none';
  log(line: string): void;
}

const TICK = 100; // USER_HZ: 100 on every Linux this runs on.

/** A process's CPU so far, ms (utime + stime of /proc/PID/stat), and its peak RSS, MB (VmHWM). */
async function procStat(pid: number | undefined): Promise<{ cpuMs: number; peakMb: number }> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return { cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK, peakMb: Number(hwm) / 1024 };
  } catch {
    return { cpuMs: NaN, peakMb: NaN };
  }
}

/** The whole machine's busy CPU so far, ms (/proc/stat): other work on it included. */
async function machineBusyMs(): Promise<number> {
  try {
    const v = ((await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    return ((v.reduce((a, b) => a + b, 0) - (v[3] ?? 0) - (v[4] ?? 0)) * 1000) / TICK;
  } catch {
    return NaN;
  }
}

/** Redis's own CPU so far, ms (INFO cpu): every client of that Redis counts. */
async function redisCpuMs(redis: Redis | null): Promise<number> {
  if (!redis) return NaN;
  try {
    const info = await redis.info('cpu');
    const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1]);
    return (get('used_cpu_sys') + get('used_cpu_user')) * 1000;
  } catch {
    return NaN;
  }
}

interface Measured {
  load: LoadReport;
  /** CPU ms in the window: the server process, the agent process, the load generator, the machine, Redis. */
  cpu: { server: number; agent: number; client: number; machine: number; redis: number };
  rssMb: number;
}

/** Forks the load generator against `url`; reads CPU times at the window's edges. */
async function measure(
  url: string,
  token: string,
  task: string,
  o: ApiOptions,
  procs: { server: ChildProcess; agent: ChildProcess | null; redis: Redis | null },
): Promise<Measured> {
  const load = fork(LOAD, [url, String(o.clients), String(o.warmupS ?? 1), String(o.seconds), task], {
    env: { ...process.env, BENCH_TOKEN: token },
  });
  const snapshot = async () => ({
    server: (await procStat(procs.server.pid)).cpuMs,
    agent: procs.agent ? (await procStat(procs.agent.pid)).cpuMs : NaN,
    client: (await procStat(load.pid)).cpuMs,
    machine: await machineBusyMs(),
    redis: await redisCpuMs(procs.redis),
  });
  try {
    const edges: Promise<Awaited<ReturnType<typeof snapshot>>>[] = [];
    let limit: NodeJS.Timeout | undefined;
    const report = await new Promise<LoadReport>((resolve, reject) => {
      limit = setTimeout(() => reject(new Error('the load generator did not report')), o.seconds * 1000 + 90_000);
      load.on('message', (m: { type?: string; edge?: string; error?: string }) => {
        if (m.type === 'ready') load.send({ type: 'go' });
        else if (m.type === 'window') edges.push(snapshot());
        else if (m.type === 'report') resolve(m as LoadReport);
        else if (m.type === 'error') reject(new Error(m.error ?? 'load generator failed'));
      });
      load.once('exit', (code) => reject(new Error(`the load generator exited (${code}) before its report`)));
    }).finally(() => clearTimeout(limit));
    const [a, b] = await Promise.all(edges);
    if (!a || !b) throw new Error('the load generator did not mark the window');
    const cpu = {
      server: b.server - a.server,
      agent: b.agent - a.agent,
      client: b.client - a.client,
      machine: b.machine - a.machine,
      redis: b.redis - a.redis,
    };
    return { load: report, cpu, rssMb: (await procStat(procs.server.pid)).peakMb };
  } finally {
    if (load.exitCode === null) load.kill('SIGKILL');
  }
}

/** The JSON line of one side. */
function line(system: string, backend: string, o: ApiOptions, m: Measured, stored: number, extra: object) {
  const { load, cpu } = m;
  const windowS = load.window_ms / 1000;
  const cores = (ms: number) => round(ms / load.window_ms, 3);
  return {
    system,
    backend,
    workload: 'api',
    clients: o.clients,
    seconds: o.seconds,
    submits_per_s: round(load.accepted / windowS, 1),
    p50_ms: load.p50_ms,
    p95_ms: load.p95_ms,
    p99_ms: load.p99_ms,
    max_ms: load.max_ms,
    errors: load.errors,
    accepted: load.accepted,
    samples: load.samples,
    in_flight_at_end: load.in_flight_at_end,
    sent_total: load.sent_total,
    accepted_total: load.accepted_total,
    stored,
    refused: load.refused,
    failed: load.failed,
    unanswered: load.unanswered,
    statuses: load.statuses,
    connections: load.connections,
    ...(load.first_error !== null && { first_error: load.first_error }),
    server_cpu_ms: round(cpu.server, 0),
    server_cores: cores(cpu.server),
    server_cpu_ms_per_submit: load.accepted ? round(cpu.server / load.accepted, 4) : null,
    rss_mb: round(m.rssMb, 1),
    ...(Number.isFinite(cpu.redis) && { redis_cpu_ms: round(cpu.redis, 0), redis_cores: cores(cpu.redis) }),
    client_cores: cores(cpu.client),
    machine_busy_cores: cores(cpu.machine),
    window_ms: load.window_ms,
    warmup_ms: load.warmup_ms,
    first_answer_max_ms: load.first_answer_max_ms,
    ...extra,
    ok: load.errors === 0 && load.accepted > 0 && stored === load.accepted_total,
  };
}

/** All jobs in Baton's store, through the API (the store's kept counts). */
async function batonTotal(url: string, adminToken: string): Promise<number> {
  const res = await fetch(`${url}/api/jobs/counts`, { headers: { authorization: `Bearer ${adminToken}` } });
  if (res.status !== 200) throw new Error(`GET /api/jobs/counts answered ${res.status}`);
  return ((await res.json()) as { total: number }).total;
}

async function unfinished(url: string, adminToken: string): Promise<number> {
  const res = await fetch(`${url}/api/jobs/counts`, { headers: { authorization: `Bearer ${adminToken}` } });
  const { counts } = (await res.json()) as { counts: Record<string, number> };
  return (counts.queued ?? 0) + (counts.assigned ?? 0) + (counts.running ?? 0) + (counts.delayed ?? 0);
}

const TASK = 'demo.echo';

/** Baton's side: a `baton server` process, a `baton agent --demo` process, the load generator. */
export async function runBatonApi(o: ApiOptions): Promise<Record<string, unknown>> {
  let tempDir: string | null = null;
  let storeUrl = o.store;
  if (storeUrl === undefined || storeUrl === 'sqlite:') {
    tempDir = await mkdtemp(join(tmpdir(), 'baton-bench-api-'));
    storeUrl = `sqlite:${join(tempDir, 'bench.db')}`;
  }
  const backend = storeUrl.split(':')[0] ?? 'sqlite';
  const agentMode = o.agent ?? 'process';
  const adminToken = randomBytes(24).toString('base64url');
  const agentToken = randomBytes(24).toString('base64url');
  const children: ChildProcess[] = [];
  const serverNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  let serverProc: ChildProcess | null = null;
  // For Redis's own CPU (INFO); not for a cluster, whose nodes are many.
  const redis = /^rediss?:\/\//.test(storeUrl)
    ? new Redis(storeUrl.split('?')[0] as string, { maxRetriesPerRequest: 1, lazyConnect: true })
    : null;
  try {
    // Opened here first: a bad URL fails before any process starts (and the schema is migrated).
    const store = await openStore(storeUrl);
    try {
      // Without an agent the route is announced here, for an hour: the jobs then stay queued.
      if (agentMode === 'none') await store.registerTasks([{ task: TASK, queue: 'default' }], 3_600_000);
    } finally {
      await store.close();
    }
    // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" to profile the server, as for events.
    const server = startNode(
      [
        ...serverNodeArgs,
        BIN,
        'server',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--store',
        storeUrl,
        '--log-level',
        'warn',
      ],
      {
        BATON_ADMIN_TOKEN: adminToken,
        BATON_AGENT_TOKEN: agentToken,
      },
    );
    children.push(server.proc);
    serverProc = server.proc;
    const url = (await server.waitFor(/listening on (http:\/\/\S+)/, 30_000))[1] as string;
    let agent: BatonChild | null = null;
    if (agentMode === 'process') {
      agent = startNode(
        [BIN, 'agent', '--server', url, '--name', 'bench-api', '--demo', '--slots', '50', '--log-level', 'warn'],
        {
          BATON_AGENT_TOKEN: agentToken,
        },
      );
      children.push(agent.proc);
      await agent.waitFor(/as (agent-\S+):/, 30_000);
    }
    const token = await benchUserToken(url, adminToken);
    o.log(
      `api baton: server ${url} (pid ${server.proc.pid}), agent ${agentMode}, store ${o.store ?? 'sqlite:(temp file)'}`,
    );
    const before = await batonTotal(url, adminToken);
    const m = await measure(url, token, TASK, o, { server: server.proc, agent: agent?.proc ?? null, redis });
    const stored = (await batonTotal(url, adminToken)) - before;
    // How long the agent took to run what was submitted (not part of the figures above).
    let drainS: number | null = null;
    if (agentMode === 'process') {
      const from = Date.now();
      while (Date.now() - from < 30_000) {
        if ((await unfinished(url, adminToken)) === 0) {
          drainS = (Date.now() - from) / 1000;
          break;
        }
        await sleep(200);
      }
    }
    return line('baton', backend, o, m, stored, {
      agent: agentMode,
      agent_cores: agentMode === 'process' ? round(m.cpu.agent / m.load.window_ms, 3) : null,
      drain_s: drainS === null ? null : round(drainS, 2),
    });
  } finally {
    // A server given node flags (a profile) gets SIGTERM and up to 10 s to exit and write it.
    if (serverProc && serverNodeArgs.length > 0 && serverProc.exitCode === null) {
      const exited = new Promise((resolve) => serverProc?.once('exit', resolve));
      serverProc.kill('SIGTERM');
      await atMost(exited, 10_000);
    }
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    redis?.disconnect();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

/** Every key under `prefix:` in that Redis db, removed. */
async function removeKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** The peer's side: the fastify + BullMQ process on Redis (a queue under a fresh prefix, removed after). */
export async function runPeerApi(o: ApiOptions): Promise<Record<string, unknown>> {
  const redisUrl = o.peerRedis ?? process.env.BENCH_PEER_REDIS ?? 'redis://127.0.0.1:6379/12';
  const prefix = `bench-api-${randomBytes(4).toString('hex')}`;
  const token = randomBytes(24).toString('base64url');
  const redis = new Redis({ ...redisConnection(redisUrl), maxRetriesPerRequest: 1 });
  const peer = startNode([PEER], {
    BENCH_PEER_REDIS: redisUrl,
    BENCH_PEER_PREFIX: prefix,
    BENCH_PEER_QUEUE: 'api',
    BENCH_TOKEN: token,
  });
  let queue: Queue | null = null;
  try {
    const url = (await peer.waitFor(/listening on (http:\/\/\S+)/, 30_000))[1] as string;
    o.log(`api bullmq-fastify: server ${url} (pid ${peer.proc.pid}), Redis ${redisUrl}, prefix ${prefix}`);
    const m = await measure(url, token, 'bench.noop', o, { server: peer.proc, agent: null, redis });
    queue = new Queue('api', { connection: redisConnection(redisUrl), prefix });
    const counts = await queue.getJobCounts();
    const stored = Object.values(counts).reduce((a, b) => a + b, 0);
    return line('bullmq-fastify', 'redis', o, m, stored, { agent: 'none', prefix });
  } finally {
    if (peer.proc.exitCode === null) peer.proc.kill('SIGKILL');
    await queue?.close().catch(() => {});
    await removeKeys(redis, prefix).catch((err: unknown) => o.log(`could not remove ${prefix}:* (${String(err)})`));
    redis.disconnect();
  }
}

/** Baton's side, then the peer's (if any): one line each. */
export async function runApi(o: ApiOptions): Promise<Record<string, unknown>[]> {
  const lines = [await runBatonApi(o)];
  if (o.peer === 'bullmq') lines.push(await runPeerApi(o));
  return lines;
}

/** A readable summary of one run's lines, for stderr: each side, and Baton against the peer. */
export function describeApi(lines: Record<string, unknown>[]): string[] {
  const f = (v: unknown) => (v === null || v === undefined ? '–' : String(v));
  const out = lines.map(
    (r) =>
      `${f(r.system)} (${f(r.backend)}): ${f(r.submits_per_s)} submits/s, p50/p95/p99/max ${f(r.p50_ms)} / ${f(r.p95_ms)} / ${f(r.p99_ms)} / ${f(r.max_ms)} ms, ` +
      `errors ${f(r.errors)}, in flight at end ${f(r.in_flight_at_end)}, stored ${f(r.stored)}/${f(r.accepted_total)}; ` +
      `server ${f(r.server_cores)} cores (${f(r.server_cpu_ms_per_submit)} ms/submit), rss ${f(r.rss_mb)} MB; load generator ${f(r.client_cores)} cores, machine ${f(r.machine_busy_cores)} busy`,
  );
  const [baton, peer] = lines;
  const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
  if (baton && peer) {
    const ratio = num(baton.submits_per_s) / num(peer.submits_per_s);
    out.push(
      `baton / ${f(peer.system)}: submits/s ×${round(ratio, 2) ?? '–'}; p99 ${f(baton.p99_ms)} ms against ${f(peer.p99_ms)} ms (×${round(num(baton.p99_ms) / num(peer.p99_ms), 2) ?? '–'})`,
    );
  }
  return out;
}
