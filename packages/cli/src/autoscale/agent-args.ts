import type { BatonConfig, PoolConfig } from '@baton/core';

/** The name of the `n`th agent the autoscaler runs for a pool. */
export function autoscaleAgentName(pool: string, n: number): string {
  return `autoscale-${pool}-${n}`;
}

/**
 * The `baton agent` arguments of one of a pool's agents. The token is not among them: it goes
 * in the child's environment, never in its argv (which `ps` shows every user).
 */
export function agentArgsFor(pool: PoolConfig, serverUrl: string, name: string): string[] {
  return [
    'agent',
    '--server',
    serverUrl,
    '--pool',
    pool.name,
    '--queues',
    pool.queues.join(','),
    ...(pool.slotsPerAgent !== undefined ? ['--slots', String(pool.slotsPerAgent)] : []),
    ...(pool.gpusPerAgent !== undefined ? ['--gpus', String(pool.gpusPerAgent)] : []),
    '--name',
    name,
    ...pool.agentArgs,
  ];
}

/** `baton agent`'s own default `--drain-grace-ms`. */
const AGENT_DRAIN_GRACE_MS = 30_000;

/** The longest `--drain-grace-ms` a pool's agents get (from its `agentArgs`, else the agent's default). */
export function drainGraceMs(config: BatonConfig): number {
  let longest = config.pools.length > 0 ? 0 : AGENT_DRAIN_GRACE_MS;
  for (const pool of config.pools) {
    let grace = AGENT_DRAIN_GRACE_MS;
    pool.agentArgs.forEach((arg, i) => {
      const value = arg === '--drain-grace-ms' ? pool.agentArgs[i + 1] : /^--drain-grace-ms=(.*)$/.exec(arg)?.[1];
      if (value !== undefined && /^\d+$/.test(value)) grace = Number(value);
    });
    longest = Math.max(longest, grace);
  }
  return longest;
}
