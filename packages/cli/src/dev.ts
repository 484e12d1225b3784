import type { Command } from 'commander';
import { DEFAULT_PORT } from '@baton/core';
import { DEFAULT_STORE_URL } from '@baton/store';
import { intOption } from './cli-error.js';
import type { ServeOptions } from './serve.js';
import { withServeOptions } from './serve.js';

/** The flags of `baton dev`, as commander parses them. */
export interface DevOptions extends ServeOptions {
  /** Given or not: 1 by default, 0 with --autoscale. */
  agents?: number;
  concurrency: number;
  demo: boolean;
  autoscale: boolean;
  config?: string;
}

export function registerDevCommand(program: Command): void {
  withServeOptions(
    program.command('dev').description('run API, scheduler, embedded store and local agents in one process'),
    { store: DEFAULT_STORE_URL, port: DEFAULT_PORT },
  )
    .option('--agents <n>', 'in-process agents to start (default 1; 0 with --autoscale)', intOption('--agents', 0, 64))
    .option('--concurrency <n>', 'jobs each agent runs at once', intOption('--concurrency', 1, 10_000), 8)
    .option('--demo', 'also submit a small demo workload and report as it runs', false)
    .option(
      '--autoscale',
      "start and stop local `baton agent` processes per pool of the config, following the server's scaling decisions",
      false,
    )
    .action(async (options: DevOptions) => {
      // Loaded when dev runs, so other commands (and --help) start without the server and agent.
      const { runDev } = await import('./dev-run.js');
      await runDev(options);
    });
}
