import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './stats.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/baton.js', import.meta.url));
const SAMPLE_MS = 100;

export interface AutoscaleOptions {
  jobs: number;
  jobMs: number;
  /** The pool's agents at most, and each agent's slots. */
  max: number;
  slots: number;
  cooldownS: number;
  syncS: number;
  timeoutMs: number;
  log(line: string): void;
}

export interface AutoscaleResult {
  system: 'baton';
  backend: 'sqlite';
  workload: 'autoscale';
  ok: boolean;
  jobs: number;
  job_ms: number;
  max_agents: number;
  slots_per_agent: number;
  cooldown_s: number;
  sync_s: number;
  /** From the first submission to the first agent of the pool connected. */
  first_agent_s: number | null;
  peak_agents: number;
  /** From the first submission to the last job finished. */
  total_s: number | null;
  /** The work itself at full use of every slot: jobs × job time / slots per agent. */
  min_agent_s: number | null;
  /** Connected agents integrated over time, until the last job finished. */
  agent_s_to_done: number | null;
  /** …and until the pool was back at zero (the cooldown's idle agents included). */
  agent_s_to_zero: number | null;
  /** From the last job finished to no agent left in the pool. */
  back_to_zero_s: number | null;
}

/**
 * The autoscale workload: `baton dev --autoscale` with one pool that starts at zero; a burst of
 * N jobs of `jobMs` each on its queue; the pool's connected agents sampled every 100 ms until it
 * is back at zero after the cooldown. Says how soon the first agent came, how many at most, how
 * long the burst took, and what the agents cost against the work.
 */
export async function runAutoscale(options: AutoscaleOptions): Promise<AutoscaleResult> {
  const { log } = options;
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-autoscale-'));
  const admin = randomBytes(18).toString('base64url');
  const configPath = join(dir, 'baton.yaml');
  writeFileSync(
    configPath,
    [
      'pools:',
      '  burst:',
      '    queues: [burst]',
      '    tasks: [demo.sleep]',
      '    min: 0',
      `    max: ${options.max}`,
      `    slotsPerAgent: ${options.slots}`,
      `    cooldownSeconds: ${options.cooldownS}`,
      '    agentArgs: ["--demo", "--log-level", "warn"]',
      'scaling:',
      `  syncSeconds: ${options.syncS}`,
      '',
    ].join('\n'),
  );
  let dev: ChildProcess | null = null;
  try {
    dev = spawn(
      process.execPath,
      [BIN, 'dev', '--autoscale', '--config', configPath, '--store', 'sqlite::memory:', '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BATON_CONFIG_DIR: dir, BATON_ADMIN_TOKEN: admin, BATON_METRICS: 'true' },
      },
    );
    let out = '';
    dev.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    dev.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const url = await waitFor(
      () => /listening on (http:\/\/\S+)/.exec(out)?.[1],
      20_000,
      () => out,
    );
    const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const get = async <T>(path: string) => (await (await fetch(`${url}${path}`, { headers })).json()) as T;

    const start = Date.now();
    for (let i = 0; i < options.jobs; i += 1000) {
      const n = Math.min(1000, options.jobs - i);
      const body = {
        jobs: Array.from({ length: n }, () => ({ task: 'demo.sleep', queue: 'burst', payload: { ms: options.jobMs } })),
      };
      const r = await fetch(`${url}/api/jobs/bulk`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (r.status !== 201) throw new Error(`bulk submit answered ${r.status}: ${await r.text()}`);
    }
    log(`submitted ${options.jobs} jobs of ${options.jobMs} ms in ${Date.now() - start} ms`);

    let firstAgentAt: number | null = null;
    let doneAt: number | null = null;
    let zeroAt: number | null = null;
    let peak = 0;
    let agentMsToDone = 0;
    let agentMsToZero = 0;
    let last = start;
    let lastCount = 0;
    const deadline = start + options.timeoutMs;
    while (zeroAt === null) {
      if (Date.now() > deadline) throw new Error(`the burst did not end in time:\n${out.slice(-2000)}`);
      const [agents, queues] = await Promise.all([
        get<{ agents: { pool: string; state: string }[] }>('/api/agents'),
        get<{ queues: { name: string; counts: Record<string, number> }[] }>('/api/queues'),
      ]);
      const now = Date.now();
      agentMsToZero += lastCount * (now - last);
      if (doneAt === null) agentMsToDone += lastCount * (now - last);
      last = now;
      const count = agents.agents.filter((a) => a.pool === 'burst' && a.state === 'connected').length;
      lastCount = count;
      peak = Math.max(peak, count);
      if (count > 0 && firstAgentAt === null) {
        firstAgentAt = now;
        log(`first agent after ${now - start} ms`);
      }
      const burst = queues.queues.find((q) => q.name === 'burst');
      const finished = (burst?.counts.succeeded ?? 0) + (burst?.counts.failed ?? 0);
      if (doneAt === null && finished >= options.jobs) {
        doneAt = now;
        log(`all ${options.jobs} jobs finished after ${now - start} ms (peak ${peak} agents)`);
      }
      if (doneAt !== null && count === 0) zeroAt = now;
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    log(`back to zero ${zeroAt - (doneAt ?? zeroAt)} ms after the last job`);
    return {
      system: 'baton',
      backend: 'sqlite',
      workload: 'autoscale',
      ok: true,
      jobs: options.jobs,
      job_ms: options.jobMs,
      max_agents: options.max,
      slots_per_agent: options.slots,
      cooldown_s: options.cooldownS,
      sync_s: options.syncS,
      first_agent_s: firstAgentAt === null ? null : round((firstAgentAt - start) / 1000),
      peak_agents: peak,
      total_s: doneAt === null ? null : round((doneAt - start) / 1000),
      min_agent_s: round((options.jobs * options.jobMs) / 1000 / options.slots),
      agent_s_to_done: round(agentMsToDone / 1000),
      agent_s_to_zero: round(agentMsToZero / 1000),
      back_to_zero_s: doneAt === null ? null : round((zeroAt - doneAt) / 1000),
    };
  } finally {
    if (dev && dev.exitCode === null) {
      dev.kill('SIGINT');
      await new Promise((r) => dev?.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`baton dev did not start:\n${output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
