import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BatonConfig } from '@baton/core';
import { BatonError } from '@baton/core';
import { loadConfigFile } from '@baton/server';
import { CliError } from '../cli-error.js';

/** What `--autoscale` without `--config` and without a ./baton.yaml says to write. */
export const EXAMPLE_CONFIG = `pools:
  burst:
    queues: [burst]
    tasks: [demo.sleep, demo.echo, demo.fail]
    min: 0
    max: 4
    slotsPerAgent: 2
    cooldownSeconds: 20
    agentArgs: ["--demo"]`;

/**
 * The pools config of `baton dev`: `--config FILE`, else with `--autoscale` ./baton.yaml, which
 * must then exist; null when neither is asked for. Errors name the file, line and field.
 */
export function devScalingConfig(
  options: { config?: string; autoscale?: boolean },
  cwd: string = process.cwd(),
): { path: string; config: BatonConfig } | null {
  let path: string;
  if (options.config !== undefined) {
    path = resolve(cwd, options.config);
  } else if (options.autoscale) {
    path = resolve(cwd, 'baton.yaml');
    if (!existsSync(path)) {
      throw new CliError(
        `--autoscale needs the pools to scale: give --config FILE, or write ${path}, for example:\n\n` +
          `${EXAMPLE_CONFIG}\n\n(see docs/autoscale.md)`,
        2,
      );
    }
  } else {
    return null;
  }
  let config: BatonConfig;
  try {
    config = loadConfigFile(path);
  } catch (err) {
    if (err instanceof BatonError) throw new CliError(err.message, 2);
    throw err;
  }
  return { path, config };
}
