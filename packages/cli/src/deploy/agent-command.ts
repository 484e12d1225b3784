import type { PoolConfig } from '@baton/core';

/**
 * The `baton agent` command line of a pool's agents and the timings derived from it, shared by
 * every target so a Kubernetes pod and a Compose container of one pool run the same agent.
 */

/** The agent's own default for `--drain-grace-ms`. */
const AGENT_DRAIN_GRACE_MS = 30_000;
/** Time beyond the drain for the agent to tell the server it leaves and exit. */
const EXIT_MARGIN_SECONDS = 30;
/** How long a new agent may take to connect when the pool sets no `startupSeconds`. */
export const DEFAULT_STARTUP_SECONDS = 60;
export const DEFAULT_GPU_STARTUP_SECONDS = 600;

/**
 * The arguments after the image's entrypoint (`node packages/cli/bin/baton.js`). The token is
 * never here: it comes from `BATON_AGENT_TOKEN`. Slots default to the GPU count for a GPU pool;
 * GPUs are declared (`--gpus N`, as many as the container was given) unless `agentArgs` has its own.
 */
export function agentCommand(pool: PoolConfig, server: string): string[] {
  const own = new Set(pool.agentArgs.map((a) => a.split('=')[0]));
  const args = ['agent', '--server', server, '--pool', pool.name, '--queues', pool.queues.join(',')];
  const slots = pool.slotsPerAgent ?? pool.gpusPerAgent;
  if (slots !== undefined && !own.has('--slots')) args.push('--slots', String(slots));
  if (pool.gpusPerAgent !== undefined && !own.has('--gpus')) args.push('--gpus', String(pool.gpusPerAgent));
  // What the container was given, not the node's cores and memory, is what the agent offers.
  if (pool.cpu !== undefined && !own.has('--cpu')) args.push('--cpu', String(pool.cpu));
  if (pool.memoryMb !== undefined && !own.has('--memory-mb')) args.push('--memory-mb', String(pool.memoryMb));
  return [...args, ...pool.agentArgs];
}

/** Whether the agent has anything to run; without one of these flags it exits at start. */
export function runsSomething(pool: PoolConfig): boolean {
  return pool.agentArgs.some((a) => ['--tasks', '--allow-commands', '--demo'].includes(a.split('=')[0] ?? a));
}

/** `--drain-grace-ms` of `agentArgs` (`--drain-grace-ms 60000` or `--drain-grace-ms=60000`), else the agent's default. */
export function drainGraceMs(pool: PoolConfig): number {
  const args = pool.agentArgs;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const value = arg === '--drain-grace-ms' ? args[i + 1] : arg.startsWith('--drain-grace-ms=') ? arg.slice(17) : null;
    if (value !== null && value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  return AGENT_DRAIN_GRACE_MS;
}

/**
 * How long the orchestrator waits after SIGTERM before SIGKILL: the agent drains its running
 * jobs for up to `--drain-grace-ms`, then unregisters and exits.
 */
export function stopGraceSeconds(pool: PoolConfig): number {
  return Math.ceil(drainGraceMs(pool) / 1000) + EXIT_MARGIN_SECONDS;
}

/** How long a new agent may take to connect: image pull, driver load, model download. */
export function startupSeconds(pool: PoolConfig): number {
  return (
    pool.startupSeconds ?? (pool.gpusPerAgent !== undefined ? DEFAULT_GPU_STARTUP_SECONDS : DEFAULT_STARTUP_SECONDS)
  );
}

/**
 * A probe for an agent, which serves no HTTP: exit 0 when the container holds an established
 * TCP connection to `port` (the agent's WebSocket to a server), read from /proc/net/tcp{,6}.
 * Used as a startup probe (a pod that never connects is restarted) and a Compose healthcheck,
 * never as a liveness probe: an agent rides out a server outage by itself, jobs and all.
 */
export function connectedProbe(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const script =
    "const fs=require('fs');" +
    "const up=['/proc/net/tcp','/proc/net/tcp6'].some((f)=>{" +
    "try{return fs.readFileSync(f,'utf8').split('\\n').slice(1).some((l)=>{" +
    `const c=l.trim().split(/\\s+/);return c[3]==='01'&&(c[2]||'').endsWith(':${hexPort}');});}` +
    'catch{return false;}});process.exit(up?0:1);';
  return ['node', '-e', script];
}
