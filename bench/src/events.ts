import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@baton/store';
import type { ClientsReport } from './events-clients.js';
import type { ProducerReport } from './events-producer.js';
import { MARKER_TASK, nowMs } from './events-producer.js';
import { clockTick, machineCpuMs, nextMessage, procCpuMs, startBaton } from './processes.js';
import { percentile, round, sortedCopy } from './stats.js';
import { atMost, sleep } from './waits.js';

const PRODUCER = fileURLToPath(new URL('./events-producer.js', import.meta.url));
const CLIENTS = fileURLToPath(new URL('./events-clients.js', import.meta.url));

export interface EventsOptions {
  /** Store URL; absent or `sqlite:`: a fresh SQLite file in a temp folder. Not `sqlite::memory:`. */
  store?: string;
  /** Event-stream clients (0: none, the run is its own baseline). */
  clients: number;
  /** Flow submissions per second, and for how long. */
  rate: number;
  seconds: number;
  /** Marker submissions per second (each to a queue of its own). Default 20. */
  markerRate?: number;
  /** The agent process's slots. Default 50. */
  concurrency?: number;
  /** Also run the flow without clients first, for the server's CPU without them. Default true. */
  baseline?: boolean;
  /** Flow submissions waiting for their answer at most. Default 500. */
  maxInFlight?: number;
  /** Unmeasured flow before the phases (JIT, connections), seconds. Default 2. */
  warmupS?: number;
  timeoutMs: number;
  log(line: string): void;
}

interface PhaseResult {
  producer: ProducerReport;
  clients: ClientsReport | null;
  /** Wall time of the flow window (go → last answer), ms. */
  wallMs: number;
  /** CPU ms in the window, per process. */
  cpu: { server: number; agent: number; producer: number; clients: number; main: number; machine: number };
  /** Time from the window's end until the flow's jobs had all run, s (null: not within 30 s). */
  drainS: number | null;
  /** When the clients were stopped (hrtime and wall clock): markers never received count until then. */
  endAt: number;
  endWall: number;
  /** Marker job id → its `createdAt` (epoch ms, the server's clock when it took the request). */
  createdAt: Map<string, number>;
}

/** Jobs of `queue` not yet finished, as the API counts them. */
async function unfinished(url: string, token: string, queue: string): Promise<number> {
  const res = await fetch(`${url}/api/queues`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { queues: { name: string; counts: Record<string, number> }[] };
  const counts = body.queues.find((q) => q.name === queue)?.counts ?? {};
  return (counts.queued ?? 0) + (counts.assigned ?? 0) + (counts.running ?? 0) + (counts.delayed ?? 0);
}

/**
 * The events workload: a `baton server` process on the store and a `baton agent --demo`
 * process running the flow's no-op jobs; a producer process submitting single jobs at `rate`/s
 * with markers beside them; `clients` WebSocket clients on `GET /api/events` in a process of
 * their own. Lag = when a client got the `enqueued` event naming a marker's queue − when the
 * marker's POST returned (and − when it was sent). Server CPU from /proc, with and without the
 * clients (a baseline phase first).
 */
export async function runEvents(options: EventsOptions): Promise<Record<string, unknown>> {
  const { log, clients, rate, seconds } = options;
  const markerRate = options.markerRate ?? 20;
  const concurrency = options.concurrency ?? 50;
  const maxInFlight = options.maxInFlight ?? 500;
  const warmupS = options.warmupS ?? 2;
  const baseline = (options.baseline ?? true) && clients > 0;
  const tick = clockTick();
  const adminToken = randomBytes(24).toString('base64url');
  const agentToken = randomBytes(24).toString('base64url');
  const runId = randomBytes(3).toString('hex');
  const prefixOf = (phase: string) => `marker-${runId}-${phase}-`;
  const deadline = Date.now() + options.timeoutMs;
  let tempDir: string | null = null;
  let storeUrl = options.store;
  if (storeUrl === undefined || storeUrl === 'sqlite:') {
    tempDir = await mkdtemp(join(tmpdir(), 'baton-bench-events-'));
    storeUrl = `sqlite:${join(tempDir, 'bench.db')}`;
  }
  const backend = storeUrl.split(':')[0] ?? 'sqlite';
  const children: ChildProcess[] = [];
  // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
  const serverNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  let serverProc: ChildProcess | null = null;
  try {
    // Marker queues need a route (the API refuses a queue no task is served on); no agent
    // serves them, so their jobs stay queued. Registered before the server starts.
    const phases = [...(baseline ? ['b'] : []), 'c'];
    const markersPerPhase = Math.round(markerRate * seconds);
    const store = await openStore(storeUrl);
    try {
      await store.registerTasks(
        phases.flatMap((p) =>
          Array.from({ length: markersPerPhase }, (_, n) => ({ task: MARKER_TASK, queue: `${prefixOf(p)}${n}` })),
        ),
        3_600_000,
      );
    } finally {
      await store.close();
    }

    const server = startBaton(
      ['server', '--port', '0', '--host', '127.0.0.1', '--store', storeUrl, '--log-level', 'warn'],
      {
        BATON_ADMIN_TOKEN: adminToken,
        BATON_AGENT_TOKEN: agentToken,
      },
      { nodeArgs: serverNodeArgs },
    );
    serverProc = server.proc;
    children.push(server.proc);
    const url = (await server.waitFor(/listening on (http:\/\/\S+)/, 30_000))[1] as string;
    const agent = startBaton(
      [
        'agent',
        '--server',
        url,
        '--name',
        'bench-events',
        '--demo',
        '--slots',
        String(concurrency),
        '--log-level',
        'warn',
      ],
      { BATON_AGENT_TOKEN: agentToken },
    );
    children.push(agent.proc);
    await agent.waitFor(/as (agent-\S+):/, 30_000);
    log(
      `events baton: server ${url} (pid ${server.proc.pid}), agent process × ${concurrency} slots, store ${options.store ?? 'sqlite:(temp file)'}`,
    );

    const runProducer = (phase: string, phaseSeconds: number, phaseMarkerRate: number) =>
      fork(
        PRODUCER,
        [url, String(rate), String(phaseSeconds), String(phaseMarkerRate), prefixOf(phase), String(maxInFlight)],
        {
          env: { ...process.env, BATON_TOKEN: adminToken },
        },
      );

    const drain = async (): Promise<number | null> => {
      const from = nowMs();
      while (nowMs() - from < 30_000 && Date.now() < deadline) {
        if ((await unfinished(url, adminToken, 'default')) === 0) return (nowMs() - from) / 1000;
        await sleep(100);
      }
      return null;
    };

    if (warmupS > 0) {
      log(`warm-up: ${warmupS} s of flow, not measured`);
      const p = runProducer('w', warmupS, 0);
      children.push(p);
      await nextMessage(p, 'ready', 30_000);
      p.send({ type: 'go' });
      await nextMessage(p, 'report', warmupS * 1000 + 60_000);
      p.kill();
      await drain();
    }

    const runPhase = async (phase: string, withClients: number): Promise<PhaseResult> => {
      let clientsProc: ChildProcess | null = null;
      if (withClients > 0) {
        clientsProc = fork(CLIENTS, [url, String(withClients), prefixOf(phase)], {
          env: { ...process.env, BATON_TOKEN: adminToken },
        });
        children.push(clientsProc);
        await nextMessage(clientsProc, 'ready', 60_000);
        log(`${withClients} event-stream clients connected`);
      }
      const producer = runProducer(phase, seconds, markerRate);
      children.push(producer);
      await nextMessage(producer, 'ready', 30_000);
      const snapshot = async () => ({
        server: await procCpuMs(server.proc.pid, tick),
        agent: await procCpuMs(agent.proc.pid, tick),
        producer: await procCpuMs(producer.pid, tick),
        clients: clientsProc ? await procCpuMs(clientsProc.pid, tick) : 0,
        main: (() => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1000;
        })(),
        machine: (await machineCpuMs(tick)).busy,
      });
      const cpu0 = await snapshot();
      const t0 = nowMs();
      log(
        `phase ${phase === 'b' ? 'baseline (no clients)' : `with ${withClients} clients`}: ${rate}/s for ${seconds} s, markers ${markerRate}/s`,
      );
      producer.send({ type: 'go' });
      const report = await nextMessage<ProducerReport>(
        producer,
        'report',
        Math.max(1000, Math.min(deadline - Date.now(), seconds * 1000 + 120_000)),
      );
      const t1 = nowMs();
      const cpu1 = await snapshot();
      producer.kill();
      const drainS = await drain();
      // Markers whose events are still on their way get a moment more.
      await sleep(500);
      const endAt = nowMs();
      const endWall = performance.timeOrigin + performance.now();
      let clientsReport: ClientsReport | null = null;
      const createdAt = new Map<string, number>();
      if (clientsProc) {
        const reported = nextMessage<ClientsReport>(clientsProc, 'report', 60_000);
        clientsProc.send({ type: 'stop' });
        clientsReport = await reported;
        // After the phase, so these reads do not load the server while it is measured.
        const ids = report.markers.flatMap((m) => (m.id === null ? [] : [m.id]));
        for (let i = 0; i < ids.length; i += 10) {
          await Promise.all(
            ids.slice(i, i + 10).map(async (id) => {
              const res = await fetch(`${url}/api/jobs/${id}`, { headers: { authorization: `Bearer ${adminToken}` } });
              const job = (await res.json()) as { createdAt?: string };
              if (job.createdAt) createdAt.set(id, Date.parse(job.createdAt));
            }),
          );
        }
      }
      const cpu = {
        server: cpu1.server - cpu0.server,
        agent: cpu1.agent - cpu0.agent,
        producer: cpu1.producer - cpu0.producer,
        clients: cpu1.clients - cpu0.clients,
        main: cpu1.main - cpu0.main,
        machine: cpu1.machine - cpu0.machine,
      };
      log(
        `  flow ${report.flowAcked}/${report.flowIssued} acknowledged (${report.flowErrors} errors) in ${((report.lastAckAt - report.startedAt) / 1000).toFixed(2)} s; ` +
          `server ${(cpu.server / (t1 - t0)).toFixed(2)} cores, machine ${(cpu.machine / (t1 - t0)).toFixed(2)} busy; jobs drained ${drainS === null ? 'not within 30 s' : `${drainS.toFixed(2)} s`} after`,
      );
      if (report.firstError) log(`  first error: ${report.firstError}`);
      return { producer: report, clients: clientsReport, wallMs: t1 - t0, cpu, drainS, endAt, endWall, createdAt };
    };

    const base = baseline ? await runPhase('b', 0) : null;
    const main = await runPhase('c', clients);
    return summarize({ backend, clients, rate, seconds, markerRate, concurrency, base, main });
  } finally {
    // SIGKILL: the store is a throwaway. A server given node flags (a profile) gets SIGTERM
    // first, so that it exits on its own and writes the profile (up to 10 s).
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        if (c === serverProc && serverNodeArgs.length > 0) {
          const exited = new Promise((resolve) => c.once('exit', resolve));
          c.kill('SIGTERM');
          await atMost(exited, 10_000);
          if (c.exitCode !== null || c.signalCode !== null) return;
        }
        c.kill('SIGKILL');
      }),
    );
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

const cores = (cpuMs: number, wallMs: number) => round(cpuMs / wallMs, 3);

function summarize(run: {
  backend: string;
  clients: number;
  rate: number;
  seconds: number;
  markerRate: number;
  concurrency: number;
  base: PhaseResult | null;
  main: PhaseResult;
}): Record<string, unknown> {
  const { main, base } = run;
  const p = main.producer;
  const achieved = (r: ProducerReport) => round(r.flowAcked / ((r.lastAckAt - r.startedAt) / 1000), 1);
  const returned = p.markers.filter((m) => m.returnedAt !== null);
  const lag: number[] = [];
  const fromSend: number[] = [];
  const fromCreated: number[] = [];
  let missed = 0;
  const clientRecords = main.clients?.clients ?? [];
  for (const c of clientRecords) {
    for (const m of returned) {
      const at = c.markers[m.queue];
      if (at === undefined) missed++;
      const received = at?.[0] ?? main.endAt;
      lag.push(received - (m.returnedAt as number));
      fromSend.push(received - m.sentAt);
      const created = m.id === null ? undefined : main.createdAt.get(m.id);
      if (created !== undefined) fromCreated.push((at?.[1] ?? main.endWall) - created);
    }
  }
  const l = sortedCopy(lag);
  const s = sortedCopy(fromSend);
  const cr = sortedCopy(fromCreated);
  const last = (a: Float64Array) => (a.length ? (a[a.length - 1] as number) : null);
  const messages = clientRecords.map((c) => c.messages);
  const meanMessages = messages.length ? messages.reduce((a, b) => a + b, 0) / messages.length : null;
  const meanBytes = clientRecords.length ? clientRecords.reduce((a, c) => a + c.bytes, 0) / clientRecords.length : null;
  const flowS = main.wallMs / 1000;
  const serverCores = cores(main.cpu.server, main.wallMs);
  const baseCores = base ? cores(base.cpu.server, base.wallMs) : null;
  const markerErrors = p.markers.length - returned.length;
  const closedEarly = clientRecords.filter((c) => c.closedEarly).length;
  return {
    system: 'baton',
    backend: run.backend,
    workload: 'events',
    agent: 'process',
    clients: run.clients,
    rate: run.rate,
    seconds: run.seconds,
    concurrency: run.concurrency,
    marker_rate: run.markerRate,
    flow_submitted: p.flowIssued,
    flow_acked: p.flowAcked,
    flow_errors: p.flowErrors,
    achieved_rate: achieved(p),
    in_flight_cap_hits: p.inFlightCapHits,
    events_per_client: round(meanMessages, 1),
    events_per_client_per_s: meanMessages === null ? null : round(meanMessages / flowS, 1),
    events_min_client: messages.length ? Math.min(...messages) : null,
    bytes_per_client: meanBytes === null ? null : Math.round(meanBytes),
    clients_closed_early: closedEarly,
    markers: returned.length,
    marker_errors: markerErrors,
    marker_pairs: lag.length,
    missed,
    lag_p50_ms: round(percentile(l, 50)),
    lag_p99_ms: round(percentile(l, 99)),
    lag_max_ms: round(last(l)),
    lag_from_send_p50_ms: round(percentile(s, 50)),
    lag_from_send_p99_ms: round(percentile(s, 99)),
    lag_from_send_max_ms: round(last(s)),
    lag_from_created_p50_ms: round(percentile(cr, 50)),
    lag_from_created_p99_ms: round(percentile(cr, 99)),
    lag_from_created_max_ms: round(last(cr)),
    server_cores: serverCores,
    server_cores_baseline: baseCores,
    server_cores_clients: serverCores !== null && baseCores !== null ? round(serverCores - baseCores, 3) : null,
    server_cpu_ms_per_job: p.flowAcked ? round(main.cpu.server / p.flowAcked, 3) : null,
    server_cpu_ms_per_job_baseline: base?.producer.flowAcked
      ? round(base.cpu.server / base.producer.flowAcked, 3)
      : null,
    machine_busy_cores: cores(main.cpu.machine, main.wallMs),
    machine_busy_cores_baseline: base ? cores(base.cpu.machine, base.wallMs) : null,
    agent_cores: cores(main.cpu.agent, main.wallMs),
    agent_cores_baseline: base ? cores(base.cpu.agent, base.wallMs) : null,
    producer_cores: cores(main.cpu.producer, main.wallMs),
    clients_process_cores: cores(main.cpu.clients, main.wallMs),
    main_cores: cores(main.cpu.main, main.wallMs),
    baseline_achieved_rate: base ? achieved(base.producer) : null,
    baseline_flow_errors: base ? base.producer.flowErrors : null,
    drain_s: round(main.drainS, 2),
    drain_s_baseline: base ? round(base.drainS, 2) : null,
    ok:
      p.flowErrors === 0 &&
      markerErrors === 0 &&
      closedEarly === 0 &&
      main.drainS !== null &&
      (base === null || (base.producer.flowErrors === 0 && base.drainS !== null)),
  };
}

/** The readable summary of a result line, for stderr. */
export function describeEvents(r: Record<string, unknown>): string[] {
  const f = (v: unknown, unit = '') => (v === null || v === undefined ? '–' : `${String(v)}${unit}`);
  return [
    `clients ${f(r.clients)}; flow ${f(r.achieved_rate)}/s achieved of ${f(r.rate)}/s (${f(r.flow_acked)}/${f(r.flow_submitted)} acknowledged, ${f(r.flow_errors)} errors); jobs drained ${f(r.drain_s, ' s')} after`,
    `events per client ${f(r.events_per_client)} (${f(r.events_per_client_per_s)}/s, fewest ${f(r.events_min_client)}), ${f(r.bytes_per_client)} bytes; closed by the server ${f(r.clients_closed_early)}`,
    `lag from POST returned p50/p99/max ${f(r.lag_p50_ms)} / ${f(r.lag_p99_ms)} / ${f(r.lag_max_ms)} ms; from send ${f(r.lag_from_send_p50_ms)} / ${f(r.lag_from_send_p99_ms)} / ${f(r.lag_from_send_max_ms)} ms; from the job's createdAt ${f(r.lag_from_created_p50_ms)} / ${f(r.lag_from_created_p99_ms)} / ${f(r.lag_from_created_max_ms)} ms; ${f(r.markers)} markers × clients = ${f(r.marker_pairs)} pairs, missed ${f(r.missed)}`,
    `server CPU ${f(r.server_cores)} cores with clients, ${f(r.server_cores_baseline)} without (flow ${f(r.baseline_achieved_rate)}/s) → clients cost ${f(r.server_cores_clients)} cores; per flow job ${f(r.server_cpu_ms_per_job)} ms against ${f(r.server_cpu_ms_per_job_baseline)} ms; agent ${f(r.agent_cores)} / ${f(r.agent_cores_baseline)} cores`,
    `driver CPU: producer ${f(r.producer_cores)}, clients process ${f(r.clients_process_cores)}, main ${f(r.main_cores)} cores; whole machine busy ${f(r.machine_busy_cores)} cores (${f(r.machine_busy_cores_baseline)} in the baseline), other work included`,
  ];
}
