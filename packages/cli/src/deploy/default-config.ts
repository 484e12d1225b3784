import { parseBatonConfig } from '@baton/core';
import type { BatonConfig, BatonConfigInput } from '@baton/core';

/**
 * What `baton deploy render` renders without `--config`: one pool `default` of 1 to 10 agents
 * with 8 slots each that run command tasks (the stock image holds no task module; give
 * `agentArgs: [--tasks, /app/tasks.js]` with an image that does).
 */
export const DEFAULT_DEPLOY_CONFIG: BatonConfigInput = {
  pools: {
    default: {
      queues: ['default'],
      tasks: ['command'],
      min: 1,
      max: 10,
      slotsPerAgent: 8,
      agentArgs: ['--allow-commands'],
    },
  },
};

export function defaultDeployConfig(): BatonConfig {
  const parsed = parseBatonConfig(DEFAULT_DEPLOY_CONFIG);
  if (!parsed.ok) throw new Error(`the built-in deploy config is invalid: ${JSON.stringify(parsed.problems)}`);
  return parsed.config;
}
