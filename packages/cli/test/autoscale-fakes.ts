import { parseBatonConfig } from '@baton/core';
import type { BatonConfig, BatonConfigInput } from '@baton/core';
import type { AgentLauncher, ChildExit, LaunchRequest, LaunchedAgent } from '../src/autoscale/agent-launcher.js';
import type { PoolDecision, ScalingSource } from '../src/autoscale/scaling-source.js';

/** A config from YAML-shaped input, defaults filled in. */
export function configOf(input: BatonConfigInput): BatonConfig {
  const parsed = parseBatonConfig(input);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

/** A decision for `pool` as GET /api/scaling would give it; `current` defaults to 0. */
export function decision(pool: string, desired: number, more: Partial<PoolDecision> = {}): PoolDecision {
  return {
    pool,
    unit: 'slots',
    current: 0,
    desired,
    min: 0,
    max: 4,
    reason: `test wants ${desired}`,
    lastScaleAt: null,
    load: 0,
    pendingJobs: 0,
    drain: [],
    busyKept: 0,
    ...more,
  };
}

/** A source whose decisions the test sets; `fail` makes the next reads throw. */
export class ScriptedSource implements ScalingSource {
  pools: PoolDecision[] = [];
  failure: Error | null = null;
  reads = 0;

  set(...pools: PoolDecision[]): void {
    this.pools = pools;
  }

  async decisions(): Promise<PoolDecision[]> {
    this.reads++;
    if (this.failure) throw this.failure;
    return structuredClone(this.pools);
  }
}

/** An agent that exists only in the test: it connects, exits and answers signals when told. */
export class FakeAgent implements LaunchedAgent {
  readonly pid: number;
  terminated = 0;
  killed = 0;
  /** Exit as soon as SIGTERM comes (an idle agent draining). */
  exitOnTerminate = true;
  readonly exited: Promise<ChildExit>;
  private settle!: (exit: ChildExit) => void;
  private done = false;

  constructor(
    readonly request: LaunchRequest,
    pid: number,
  ) {
    this.pid = pid;
    this.exited = new Promise((resolve) => (this.settle = resolve));
  }

  get name(): string {
    return this.request.name;
  }

  get running(): boolean {
    return !this.done;
  }

  connect(agentId = `id-${this.request.name}`): void {
    this.request.onConnected(agentId);
  }

  exit(code: number | null, signal: string | null = null): void {
    if (this.done) return;
    this.done = true;
    this.settle({ code, signal });
  }

  terminate(): void {
    this.terminated++;
    if (this.exitOnTerminate) queueMicrotask(() => this.exit(0));
  }

  kill(): void {
    this.killed++;
    queueMicrotask(() => this.exit(null, 'SIGKILL'));
  }
}

export class FakeLauncher implements AgentLauncher {
  readonly launched: FakeAgent[] = [];
  private nextPid = 1000;

  launch(request: LaunchRequest): LaunchedAgent {
    const agent = new FakeAgent(request, this.nextPid++);
    this.launched.push(agent);
    return agent;
  }

  running(pool?: string): FakeAgent[] {
    return this.launched.filter((a) => a.running && (pool === undefined || a.request.pool === pool));
  }

  byName(name: string): FakeAgent {
    const agent = this.launched.filter((a) => a.name === name && a.running)[0];
    if (!agent) throw new Error(`no running fake agent ${name}`);
    return agent;
  }
}

/** Lets queued microtasks and promise callbacks (exits) run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
