import type { Command } from 'commander';
import { destination, pino } from 'pino';
import { DEFAULT_PORT } from '@baton/core';
import { DEFAULT_STORE_URL } from '@baton/store';
import type { ServeOptions } from './serve.js';
import { agentHint, onShutdown, serve, withServeOptions } from './serve.js';

export function registerServerCommand(program: Command): void {
  withServeOptions(
    program
      .command('server')
      .description('run the API and scheduler on a store; remote agents (baton agent) do the work'),
    { store: DEFAULT_STORE_URL, port: DEFAULT_PORT },
  ).action(async (options: ServeOptions) => {
    const logger = pino({ level: options.logLevel }, destination(2));
    const serving = await serve(options, logger);
    const url = await serving.listen();
    onShutdown(async (signal) => {
      process.stdout.write(`\n${signal}: stopping…\n`);
      await serving.close();
    });
    process.stdout.write(
      [
        `Baton server listening on ${url}`,
        `  store:  ${options.store}`,
        agentHint(url, options, serving.agentToken),
        '',
      ].join('\n'),
    );
  });
}
