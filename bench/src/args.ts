import { parseArgs } from 'node:util';
import { MAX_BULK_JOBS } from '@baton/core';
import type { PolicyName } from './packing/policies.js';
import { DEFAULT_HALF_LIFE_S, POLICY_NAMES } from './packing/policies.js';
import { DEFAULT_FAIR_WINDOW_S } from './packing/report.js';
import type { TimeLimits } from './packing/run.js';
import { TIME_LIMITS } from './packing/run.js';
import { DEFAULT_SEED } from './scheduler.js';
import { DEFAULT_BASELINE_FILE } from './baseline.js';
import type { AgentMode } from './job-timings.js';
import { AGENT_MODES } from './job-timings.js';
import { DEFAULT_POSTGRES, DEFAULT_REDIS, STANDARD_BACKENDS, STANDARD_LATENCY } from './standard-points.js';
import { UsageError, nonNegativeInt, positiveInt, positiveNumber } from './flags.js';
import { WORKLOADS } from './usage.js';
import type { Workload } from './usage.js';

/** `npm run bench` flags, parsed and checked: a bad one is a {@link UsageError}. */

export interface Parsed {
  workload: Workload;
  store: string | undefined;
  noAuth: boolean;
  jobs: number;
  concurrency: number;
  chunk: number;
  repeat: number;
  timeoutS: number;
  rate: number;
  seconds: number;
  /** api: the peer run beside Baton. */
  peer: 'bullmq' | 'none';
  trace: string | undefined;
  policies: PolicyName[];
  ignorePriority: boolean;
  timeLimits: TimeLimits;
  halfLifeS: number;
  weights: Map<string, number>;
  fairWindowS: number;
  /** packing: run the generated suite instead of one trace. */
  suite: boolean;
  only: string[] | undefined;
  priorities: ('ignored' | 'honoured')[] | undefined;
  writeTraces: string | undefined;
  agents: number;
  leaseMs: number | undefined;
  seed: number;
  scaling: boolean;
  workflows: number;
  steps: number;
  fanOut: number;
  jobMs: number;
  max: number;
  slots: number;
  cooldownS: number;
  syncS: number;
  clients: number;
  markerRate: number;
  baseline: boolean;
  maxInFlight: number;
  /** throughput, latency, standard: where the jobs run (absent: the like-for-like default). */
  agent: AgentMode | undefined;
  postgres: string;
  redis: string;
  writeBaseline: boolean;
  baselineFile: string;
}

/** `u0=2,u1=1`: users' weights, each a positive number. */
function weightsOf(value: string | undefined): Map<string, number> {
  const weights = new Map<string, number>();
  if (value === undefined) return weights;
  for (const part of value.split(',')) {
    const at = part.lastIndexOf('=');
    const user = part.slice(0, at).trim();
    const weight = Number(part.slice(at + 1));
    if (at <= 0 || user === '' || part.slice(at + 1).trim() === '' || !Number.isFinite(weight) || weight <= 0) {
      throw new UsageError(`--weights takes USER=WEIGHT pairs with positive weights, e.g. u0=2,u1=1; got "${part}"`);
    }
    if (weights.has(user)) throw new UsageError(`--weights names ${user} twice`);
    weights.set(user, weight);
  }
  return weights;
}

function suitePriorities(text: string | undefined): ('ignored' | 'honoured')[] | undefined {
  if (text === undefined || text === 'both') return undefined;
  if (text === 'ignored' || text === 'honoured') return [text];
  throw new UsageError(`--priorities takes ignored, honoured or both; got "${text}"`);
}

export function parse(argv: string[]): Parsed | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        store: { type: 'string' },
        'no-auth': { type: 'boolean' },
        jobs: { type: 'string' },
        concurrency: { type: 'string' },
        chunk: { type: 'string' },
        repeat: { type: 'string' },
        'timeout-s': { type: 'string' },
        rate: { type: 'string' },
        seconds: { type: 'string' },
        trace: { type: 'string' },
        policy: { type: 'string' },
        'ignore-priority': { type: 'boolean' },
        'time-limits': { type: 'string' },
        'half-life': { type: 'string' },
        weights: { type: 'string' },
        'fair-window': { type: 'string' },
        suite: { type: 'boolean' },
        only: { type: 'string' },
        priorities: { type: 'string' },
        'write-traces': { type: 'string' },
        agents: { type: 'string' },
        'lease-ms': { type: 'string' },
        seed: { type: 'string' },
        scaling: { type: 'boolean' },
        workflows: { type: 'string' },
        steps: { type: 'string' },
        'fan-out': { type: 'string' },
        'job-ms': { type: 'string' },
        max: { type: 'string' },
        slots: { type: 'string' },
        'cooldown-s': { type: 'string' },
        'sync-s': { type: 'string' },
        clients: { type: 'string' },
        peer: { type: 'string' },
        'marker-rate': { type: 'string' },
        'no-baseline': { type: 'boolean' },
        'max-in-flight': { type: 'string' },
        agent: { type: 'string' },
        postgres: { type: 'string' },
        redis: { type: 'string' },
        'write-baseline': { type: 'boolean' },
        baseline: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length === 0) throw new UsageError(`no workload given; known workloads: ${WORKLOADS.join(', ')}`);
  if (positionals.length > 1) throw new UsageError(`one workload at a time, got: ${positionals.join(' ')}`);
  const workload = positionals[0] as string;
  if (!(WORKLOADS as readonly string[]).includes(workload)) {
    throw new UsageError(`unknown workload "${workload}"; known workloads: ${WORKLOADS.join(', ')}`);
  }
  if (workload === 'packing' && values.trace === undefined && !values.suite) {
    throw new UsageError('packing needs --trace FILE (e.g. ../shared/traces/gpu-batch-2000.jsonl) or --suite');
  }
  if (values.suite && values.trace !== undefined) throw new UsageError('--suite and --trace exclude each other');
  if (!values.suite && (values.priorities ?? values['write-traces']) !== undefined) {
    throw new UsageError('--only, --priorities and --write-traces go with packing --suite');
  }
  if (!values.suite && workload !== 'standard' && values.only !== undefined) {
    throw new UsageError('--only, --priorities and --write-traces go with packing --suite (--only with standard too)');
  }
  const only = values.only === undefined ? undefined : values.only.split(',').map((n) => n.trim());
  if (workload === 'standard') {
    for (const name of only ?? []) {
      if (!(STANDARD_BACKENDS as readonly string[]).includes(name)) {
        throw new UsageError(`--only: unknown backend "${name}"; known: ${STANDARD_BACKENDS.join(', ')}`);
      }
    }
    for (const flag of ['store', 'concurrency', 'chunk', 'repeat'] as const) {
      if (values[flag] !== undefined) {
        throw new UsageError(
          `--${flag} does not go with standard: its points are fixed (--postgres, --redis and --only pick the stores)`,
        );
      }
    }
  } else {
    for (const flag of ['postgres', 'redis', 'write-baseline', 'baseline'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with the standard workload`);
    }
  }
  if (values.agent !== undefined && !['throughput', 'latency', 'standard'].includes(workload)) {
    throw new UsageError('--agent goes with throughput, latency and standard');
  }
  if (values.agent !== undefined && !(AGENT_MODES as readonly string[]).includes(values.agent)) {
    throw new UsageError(`--agent must be ${AGENT_MODES.join(' or ')}, got "${values.agent}"`);
  }
  const priorities = suitePriorities(values.priorities);
  const policy = values.policy ?? 'all';
  if (policy !== 'all' && !(POLICY_NAMES as readonly string[]).includes(policy)) {
    throw new UsageError(`unknown --policy "${policy}"; known: ${POLICY_NAMES.join(', ')}, all`);
  }
  const timeLimits = values['time-limits'] ?? 'none';
  if (!(TIME_LIMITS as readonly string[]).includes(timeLimits)) {
    throw new UsageError(`unknown --time-limits "${timeLimits}"; known: ${TIME_LIMITS.join(', ')}`);
  }
  if (workload !== 'events') {
    for (const flag of ['clients', 'marker-rate', 'no-baseline', 'max-in-flight'] as const) {
      if (flag === 'clients' && workload === 'api') continue;
      if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with the events workload`);
    }
  }
  if (workload === 'events' && values.store?.startsWith('sqlite::memory:')) {
    throw new UsageError(
      'events runs the server as a process of its own: give it a SQLite file (or none: a temp file), not sqlite::memory:',
    );
  }
  if (workload === 'api' && values.store?.startsWith('sqlite::memory:')) {
    throw new UsageError(
      'api runs the server as a process of its own: give it a SQLite file (or none), not sqlite::memory:',
    );
  }
  const peer = values.peer ?? (workload === 'api' ? 'bullmq' : undefined);
  if (peer !== undefined && workload !== 'api') throw new UsageError('--peer goes with the api workload');
  if (peer !== undefined && peer !== 'bullmq' && peer !== 'none') {
    throw new UsageError(`--peer takes bullmq or none, got "${peer}"`);
  }
  if (workload === 'api' && values.clients !== undefined && !/^\s*0*[1-9]\d*\s*$/.test(values.clients)) {
    throw new UsageError(`--clients must be a positive integer, got "${values.clients}"`);
  }
  const clients = values.clients === undefined ? 100 : nonNegativeInt('--clients', values.clients);
  if (clients > 5000) throw new UsageError(`--clients must be at most 5000, got ${clients}`);
  const seconds = positiveInt('--seconds', values.seconds, 10);
  const markerRate = positiveInt('--marker-rate', values['marker-rate'], 20);
  // Every marker gets a queue (and a task route) of its own, registered up front.
  if (workload === 'events' && markerRate * seconds > 5000) {
    throw new UsageError(`--marker-rate × --seconds must be at most 5000 markers, got ${markerRate * seconds}`);
  }
  const chunk = positiveInt('--chunk', values.chunk, MAX_BULK_JOBS);
  if (chunk > MAX_BULK_JOBS)
    throw new UsageError(`--chunk must be at most ${MAX_BULK_JOBS} (the API's bulk limit), got ${chunk}`);
  return {
    workload: workload as Workload,
    store: values.store,
    noAuth: values['no-auth'] ?? false,
    jobs: positiveInt(
      '--jobs',
      values.jobs,
      workload === 'failover' ? 12 : workload === 'scheduler' ? 100_000 : workload === 'autoscale' ? 2000 : 20_000,
    ),
    concurrency: positiveInt('--concurrency', values.concurrency, workload === 'latency' ? 10 : 50),
    chunk,
    repeat: positiveInt('--repeat', values.repeat, 1),
    timeoutS: positiveInt('--timeout-s', values['timeout-s'], 300),
    rate: positiveInt(
      '--rate',
      values.rate,
      workload === 'events' || workload === 'standard' ? STANDARD_LATENCY.rate : 200,
    ),
    seconds,
    peer: peer === 'none' ? 'none' : 'bullmq',
    trace: values.trace,
    policies: policy === 'all' ? [...POLICY_NAMES] : [policy as PolicyName],
    ignorePriority: values['ignore-priority'] ?? false,
    timeLimits: timeLimits as TimeLimits,
    halfLifeS: positiveNumber('--half-life', values['half-life'], DEFAULT_HALF_LIFE_S),
    weights: weightsOf(values.weights),
    fairWindowS: positiveNumber('--fair-window', values['fair-window'], DEFAULT_FAIR_WINDOW_S),
    suite: values.suite ?? false,
    only,
    priorities,
    writeTraces: values['write-traces'],
    agents: positiveInt('--agents', values.agents, workload === 'scheduler' ? 1_000 : 3),
    leaseMs: values['lease-ms'] === undefined ? undefined : positiveInt('--lease-ms', values['lease-ms'], 10_000),
    seed: values.seed === undefined ? DEFAULT_SEED : nonNegativeInt('--seed', values.seed),
    scaling: values.scaling ?? false,
    workflows: positiveInt('--workflows', values.workflows, 1000),
    steps: positiveInt('--steps', values.steps, 10),
    fanOut: values['fan-out'] === undefined ? 10_000 : nonNegativeInt('--fan-out', values['fan-out']),
    jobMs: positiveInt('--job-ms', values['job-ms'], 1000),
    max: positiveInt('--max', values.max, 10),
    slots: positiveInt('--slots', values.slots, 8),
    cooldownS: values['cooldown-s'] === undefined ? 30 : nonNegativeInt('--cooldown-s', values['cooldown-s']),
    syncS: positiveInt('--sync-s', values['sync-s'], 5),
    clients,
    markerRate,
    baseline: !(values['no-baseline'] ?? false),
    maxInFlight: positiveInt('--max-in-flight', values['max-in-flight'], 500),
    agent: values.agent as AgentMode | undefined,
    postgres: values.postgres ?? DEFAULT_POSTGRES,
    redis: values.redis ?? DEFAULT_REDIS,
    writeBaseline: values['write-baseline'] ?? false,
    baselineFile: values.baseline ?? DEFAULT_BASELINE_FILE,
  };
}
