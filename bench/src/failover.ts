import { randomBytes } from 'node:crypto';
import { percentile, round, sortedCopy } from './stats.js';
import type { BatonChild } from './processes.js';
import { startBaton } from './processes.js';

export interface FailoverOptions {
  store?: string;
  /** Jobs running when the agent dies are what is measured; this many are submitted. */
  jobs: number;
  agents: number;
  /** Server lease; default: the server's own (10 000 ms). */
  leaseMs?: number;
  timeoutMs: number;
  log(line: string): void;
}

export interface FailoverResult {
  system: 'baton';
  backend: string;
  workload: 'failover';
  ok: boolean;
  jobs: number;
  agents: number;
  /** Jobs the killed agent held. */
  killed_jobs: number;
  recovery_p50_s: number | null;
  recovery_p99_s: number | null;
  recovery_max_s: number | null;
  lease_ms: number | null;
}

type Child = BatonChild;

/** A `baton` process of the drill. */
const start = (args: string[]): Child => startBaton(args, {});

/** The parts of the job JSON this benchmark reads. */
interface JobJson {
  id: string;
  state: string;
  agentId: string | null;
  history: { attempt: number; agentId: string; assignedAt: string; startedAt: string | null }[];
}

async function getJob(url: string, id: string): Promise<JobJson> {
  return (await (await fetch(`${url}/api/jobs/${id}`)).json()) as JobJson;
}

/**
 * The failover workload: a real `baton server` and agent processes; jobs that run long enough
 * to be running when one agent is killed with SIGKILL; for each job the killed agent held, the
 * time from the kill until the job runs again on another agent (its next attempt's start).
 */
export async function runFailover(options: FailoverOptions): Promise<FailoverResult> {
  const { log } = options;
  const token = randomBytes(18).toString('base64url');
  const store = options.store ?? 'sqlite::memory:';
  const children: Child[] = [];
  try {
    const server = start([
      'server',
      '--insecure-no-auth',
      '--port',
      '0',
      '--store',
      store,
      '--agent-token',
      token,
      ...(options.leaseMs !== undefined ? ['--lease-ms', String(options.leaseMs)] : []),
    ]);
    children.push(server);
    const url = (await server.waitFor(/listening on (http:\/\/\S+)/, 20_000))[1] as string;
    // Enough slots for every job on the survivors, so recovery measures failover, not queueing.
    const slots = Math.ceil(options.jobs / Math.max(1, options.agents - 1));
    const agents: { child: Child; id: string }[] = [];
    for (let i = 0; i < options.agents; i++) {
      const child = start([
        'agent',
        '--server',
        url,
        '--token',
        token,
        '--name',
        `bench-${i}`,
        '--demo',
        '--slots',
        String(slots),
        '--log-level',
        'warn',
      ]);
      children.push(child);
      const id = (await child.waitFor(/as (agent-\S+):/, 20_000))[1] as string;
      agents.push({ child, id });
    }
    log(`server ${url}, ${options.agents} agents × ${slots} slots`);
    const body = {
      jobs: Array.from({ length: options.jobs }, () => ({ task: 'demo.sleep', payload: { ms: 600_000 } })),
    };
    const response = await fetch(`${url}/api/jobs/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const submitted = (await response.json()) as { jobs: { id: string }[] };
    const ids = submitted.jobs.map((j) => j.id);
    const deadline = Date.now() + options.timeoutMs;
    let jobs: JobJson[] = [];
    for (;;) {
      jobs = await Promise.all(ids.map((id) => getJob(url, id)));
      if (jobs.every((j) => j.state === 'running')) break;
      if (Date.now() > deadline) throw new Error('jobs did not all start');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The agent holding the most jobs dies.
    const counts = new Map<string, number>();
    for (const j of jobs) if (j.agentId) counts.set(j.agentId, (counts.get(j.agentId) ?? 0) + 1);
    const victim = [...agents].sort((a, b) => (counts.get(b.id) ?? 0) - (counts.get(a.id) ?? 0))[0];
    if (!victim) throw new Error('no agent');
    const held = jobs.filter((j) => j.agentId === victim.id).map((j) => j.id);
    const killedAt = Date.now();
    victim.child.proc.kill('SIGKILL');
    log(`killed ${victim.id} holding ${held.length} job(s)`);
    const recovered = new Map<string, number>();
    while (recovered.size < held.length) {
      if (Date.now() > deadline) throw new Error(`only ${recovered.size}/${held.length} jobs ran again in time`);
      for (const id of held) {
        if (recovered.has(id)) continue;
        const j = await getJob(url, id);
        // The new attempt counts from when another agent started it (or had it assigned, if
        // its start report is still in flight).
        const attempt = j.history.find((h) => h.attempt >= 2 && h.agentId !== victim.id);
        if (attempt) recovered.set(id, Date.parse(attempt.startedAt ?? attempt.assignedAt) - killedAt);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const sorted = sortedCopy([...recovered.values()].map((ms) => ms / 1000));
    return {
      system: 'baton',
      backend: store.split(':')[0] ?? 'sqlite',
      workload: 'failover',
      ok: true,
      jobs: options.jobs,
      agents: options.agents,
      killed_jobs: held.length,
      recovery_p50_s: round(percentile(sorted, 50)),
      recovery_p99_s: round(percentile(sorted, 99)),
      recovery_max_s: round(sorted.length ? (sorted[sorted.length - 1] ?? null) : null),
      lease_ms: options.leaseMs ?? null,
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  }
}
