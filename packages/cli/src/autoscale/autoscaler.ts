import type { BatonConfig, PoolConfig } from '@baton/core';
import { agentArgsFor, autoscaleAgentName } from './agent-args.js';
import type { AgentLauncher, ChildExit, LaunchedAgent } from './agent-launcher.js';
import type { PoolDecision, ScalingSource } from './scaling-source.js';

/** starting: launched, not registered yet; connected: registered; stopping: told to drain. */
export type ChildState = 'starting' | 'connected' | 'stopping';

/** What the autoscaler knows of one of its agents. */
export interface ChildView {
  name: string;
  pool: string;
  state: ChildState;
  /** The server's id for it, once it registered. */
  agentId: string | null;
  pid: number | undefined;
}

interface Child extends ChildView {
  handle: LaunchedAgent | null;
}

interface PoolState {
  /** Children of the pool that exited on their own, in a row, none connecting since. */
  crashes: number;
  /** No new child before this (epoch ms): a pool whose agents die at once is not respawned in a tight loop. */
  notBefore: number;
  /** The last "waiting" line logged, so that it is said once, not every tick. */
  note: string | null;
}

export interface AutoscalerOptions {
  config: BatonConfig;
  source: ScalingSource;
  launcher: AgentLauncher;
  /** The URL the agents connect to. */
  serverUrl: string;
  /** Each step, one line. */
  log(line: string): void;
  now?: () => number;
}

/** Wait before the next start after `crashes` unexpected exits in a row: none after one, then 1 s doubling to 30 s. */
export function restartDelayMs(crashes: number): number {
  return crashes <= 1 ? 0 : Math.min(30_000, 1000 * 2 ** (crashes - 2));
}

/**
 * The local autoscaler: makes the agents it runs for each pool of the config follow the scaling
 * decisions. Scale-up starts the missing agents; scale-in asks only the agents the decision
 * names in `drain` (idle ones) to drain, never a busy one; agents still starting count as
 * there; one that exits on its own is logged and replaced by the next decision.
 */
export class Autoscaler {
  private readonly pools: Map<string, PoolConfig>;
  private readonly children = new Set<Child>();
  private readonly poolStates = new Map<string, PoolState>();
  private readonly unknownPools = new Set<string>();
  private readonly now: () => number;
  private sourceError: string | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private tick: Promise<void> | null = null;

  constructor(private readonly options: AutoscalerOptions) {
    this.pools = new Map(options.config.pools.map((p) => [p.name, p]));
    this.now = options.now ?? Date.now;
  }

  /** The agents it runs now (exited ones are gone). */
  agents(pool?: string): ChildView[] {
    return [...this.children]
      .filter((c) => pool === undefined || c.pool === pool)
      .map(({ name, pool: p, state, agentId, pid }) => ({ name, pool: p, state, agentId, pid }));
  }

  /** Reconciles every `intervalMs`, the first time now, until `stop`. */
  start(intervalMs: number): void {
    const loop = async () => {
      this.timer = null;
      if (this.stopped) return;
      this.tick = this.reconcile();
      await this.tick;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), intervalMs);
    };
    void loop();
  }

  /** One reconciliation: reads the decisions and starts or drains agents to follow them. Never throws. */
  async reconcile(): Promise<void> {
    if (this.stopped) return;
    let decisions: PoolDecision[];
    try {
      decisions = await this.options.source.decisions();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.sourceError) {
        this.options.log(`autoscale: cannot read the scaling decisions: ${message}; agents stay as they are`);
      }
      this.sourceError = message;
      return;
    }
    if (this.sourceError !== null) this.options.log('autoscale: reading the scaling decisions again');
    this.sourceError = null;
    if (this.stopped) return;
    for (const decision of decisions) {
      try {
        this.reconcilePool(decision);
      } catch (err) {
        this.options.log(`autoscale: pool ${decision.pool}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private reconcilePool(decision: PoolDecision): void {
    const pool = this.pools.get(decision.pool);
    if (pool === undefined) {
      if (!this.unknownPools.has(decision.pool)) {
        this.options.log(`autoscale: pool ${decision.pool} is not in the config; its agents are not started here`);
      }
      this.unknownPools.add(decision.pool);
      return;
    }
    const state = this.poolState(pool.name);
    const alive = [...this.children].filter((c) => c.pool === pool.name && c.state !== 'stopping');
    const connected = alive.filter((c) => c.state === 'connected').length;
    const desired = Math.min(Math.max(decision.desired, pool.min), pool.max, decision.max);
    // Agents of the pool started elsewhere (another terminal, another host) count toward desired.
    // `current` is the server's count, which can run ahead of what this process has seen (an
    // agent registered before its "connected" line was read, one exited not yet timed out), so
    // each direction takes the bound that errs on doing nothing: a lag delays a start by a
    // tick, and never drains an agent.
    const othersAtMost = Math.max(0, decision.current - connected);
    const othersAtLeast = Math.max(0, decision.current - alive.length);
    const step = (others: number) =>
      `autoscale: pool ${pool.name} ${alive.length + others} → ${desired} agents (reason: ${decision.reason})`;

    if (desired - othersAtMost > alive.length) {
      const wanted = desired - othersAtMost;
      if (state.notBefore > this.now()) {
        const pause = restartDelayMs(state.crashes) / 1000;
        this.note(state, `autoscale: pool ${pool.name}: ${state.crashes} agents exited in a row; pausing ${pause} s`);
        return;
      }
      state.note = null;
      this.options.log(step(othersAtMost));
      for (let i = alive.length; i < wanted; i++) this.spawn(pool, state);
    } else if (desired - othersAtLeast < alive.length) {
      const excess = alive.length - Math.max(0, desired - othersAtLeast);
      // In the decision's order (idle first); only agents it names: a busy one is never stopped.
      const picked: Child[] = [];
      for (const id of decision.drain) {
        const child = alive.find((c) => c.state === 'connected' && (c.agentId === id || c.name === id));
        if (child !== undefined && !picked.includes(child)) picked.push(child);
        if (picked.length === excess) break;
      }
      if (picked.length > 0) {
        state.note = null;
        this.options.log(`${step(othersAtLeast)}: draining ${picked.map((c) => c.name).join(', ')}`);
        for (const child of picked) {
          child.state = 'stopping';
          child.handle?.terminate();
        }
      }
      const left = excess - picked.length;
      if (left > 0) {
        this.note(
          state,
          `autoscale: pool ${pool.name}: ${left} agent(s) above the desired ${desired}, busy or starting; drained once the decision names them`,
        );
      }
    } else {
      state.note = null;
    }
  }

  private spawn(pool: PoolConfig, state: PoolState): void {
    const taken = new Set([...this.children].filter((c) => c.pool === pool.name).map((c) => c.name));
    let n = 1;
    while (taken.has(autoscaleAgentName(pool.name, n))) n++;
    const name = autoscaleAgentName(pool.name, n);
    const child: Child = { name, pool: pool.name, state: 'starting', agentId: null, pid: undefined, handle: null };
    this.children.add(child);
    try {
      child.handle = this.options.launcher.launch({
        name,
        pool: pool.name,
        args: agentArgsFor(pool, this.options.serverUrl, name),
        onConnected: (agentId) => {
          child.agentId = agentId;
          if (child.state === 'starting') child.state = 'connected';
          state.crashes = 0;
          state.notBefore = 0;
          this.options.log(`autoscale: ${name} connected as ${agentId}`);
        },
      });
    } catch (err) {
      this.exited(child, state, {
        code: null,
        signal: `launch failed: ${err instanceof Error ? err.message : String(err)}`,
      });
      return;
    }
    child.pid = child.handle.pid;
    this.options.log(`autoscale: started ${name}${child.pid === undefined ? '' : ` (pid ${child.pid})`}`);
    void child.handle.exited.then((exit) => this.exited(child, state, exit));
  }

  private exited(child: Child, state: PoolState, exit: ChildExit): void {
    this.children.delete(child);
    const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
    if (child.state === 'stopping' || this.stopped) {
      this.options.log(`autoscale: ${child.name} exited (${how})`);
      return;
    }
    state.crashes++;
    state.notBefore = this.now() + restartDelayMs(state.crashes);
    this.options.log(`autoscale: ${child.name} exited unexpectedly (${how}); the next decision replaces it`);
  }

  /**
   * Stops reconciling, asks every agent to drain (SIGTERM) and waits for them to exit; those
   * still running after `graceMs` are killed (SIGKILL).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.tick;
    const live = [...this.children];
    if (live.length === 0) return;
    this.options.log(`autoscale: stopping ${live.length} agent(s)…`);
    for (const child of live) {
      if (child.state !== 'stopping') {
        child.state = 'stopping';
        child.handle?.terminate();
      }
    }
    const all = Promise.all(live.map((c) => c.handle?.exited));
    if (await within(all, graceMs)) return;
    const left = [...this.children];
    this.options.log(`autoscale: ${left.map((c) => c.name).join(', ')} still running after ${graceMs} ms; killing`);
    for (const child of left) child.handle?.kill();
    await within(all, 5000);
  }

  private poolState(pool: string): PoolState {
    let state = this.poolStates.get(pool);
    if (state === undefined) {
      state = { crashes: 0, notBefore: 0, note: null };
      this.poolStates.set(pool, state);
    }
    return state;
  }

  private note(state: PoolState, line: string): void {
    if (state.note !== line) this.options.log(line);
    state.note = line;
  }
}

/** Whether `promise` settled within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
