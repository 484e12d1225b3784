import type { Command } from 'commander';
import { DEFAULT_PORT } from '@baton/core';
import { DEFAULT_STORE_URL } from '@baton/store';
import { CliError } from './cli-error.js';
import type { ServeOptions } from './serve.js';
import { adminTokenOf, agentHint, onShutdown, serve, serveLogger, withServeOptions } from './serve.js';

export function registerServerCommand(program: Command): void {
  withServeOptions(
    program
      .command('server')
      .description('run the API and scheduler on a store; remote agents (baton agent) do the work'),
    { store: DEFAULT_STORE_URL, port: DEFAULT_PORT },
  )
    .option(
      '--insecure-no-auth',
      'serve the API without tokens: every caller is an admin and X-Baton-User names the owner (a trusted network only)',
      false,
    )
    .action(async (options: ServeOptions) => {
      const adminToken = adminTokenOf(options);
      // A shared server is never open by accident: it takes a way in for its first admin, or
      // an explicit choice to have no authentication at all.
      if (adminToken === undefined && !options.insecureNoAuth) {
        throw new CliError(
          'baton server needs --admin-token TOKEN (or BATON_ADMIN_TOKEN), the admin that creates users and their tokens, ' +
            'or --insecure-no-auth to serve without authentication on a trusted network',
        );
      }
      const logger = serveLogger(options.logLevel);
      const serving = await serve({ ...options, ...(adminToken !== undefined && { adminToken }) }, logger);
      const url = await serving.listen();
      onShutdown(async (signal) => {
        process.stdout.write(`\n${signal}: stopping…\n`);
        await serving.close();
      });
      process.stdout.write(
        [
          `Baton server listening on ${url}`,
          `  store:  ${options.store}`,
          options.insecureNoAuth
            ? '  auth:   NONE (--insecure-no-auth): anyone who reaches this port acts as an admin'
            : '  auth:   tokens; the admin token creates users: baton users add NAME, baton tokens create NAME',
          agentHint(url, options, serving.agentToken),
          '',
        ].join('\n'),
      );
    });
}
