import { BatonClient } from '@baton/client';
import type { BatonConfig } from '@baton/core';
import { drainGraceMs } from './agent-args.js';
import { processLauncher } from './agent-process.js';
import { Autoscaler } from './autoscaler.js';
import { ApiScalingSource } from './scaling-source.js';

/** How often `baton dev --autoscale` reads the decisions (the server makes them every syncSeconds, at least 1 s). */
export const DEV_RECONCILE_MS = 1000;

export interface DevAutoscale {
  autoscaler: Autoscaler;
  /** Drains every agent it started (SIGKILL for those past their drain grace and 5 s more). */
  stop(): Promise<void>;
}

/** Starts the local autoscaler of `baton dev --autoscale`: `baton agent` children per pool. */
export function startDevAutoscale(options: {
  config: BatonConfig;
  url: string;
  adminToken: string;
  agentToken: string;
  write(line: string): void;
}): DevAutoscale {
  const autoscaler = new Autoscaler({
    config: options.config,
    source: new ApiScalingSource(new BatonClient({ baseUrl: options.url, token: options.adminToken })),
    launcher: processLauncher({ agentToken: options.agentToken, output: options.write }),
    serverUrl: options.url,
    log: options.write,
  });
  autoscaler.start(DEV_RECONCILE_MS);
  const grace = drainGraceMs(options.config) + 5000;
  return { autoscaler, stop: () => autoscaler.stop(grace) };
}
