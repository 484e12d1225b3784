import type { Command } from 'commander';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

/** `baton retry ID`: a finished job submitted again as a new job. */
export function registerRetryCommand(program: Command): void {
  withConnection(
    program
      .command('retry')
      .description('submit a failed, cancelled or succeeded job again, as a new job')
      .argument('<id>', 'job id'),
  ).action(async (id: string, flags: ConnectionOptions) => {
    const retried = await api(clientFor(flags).retry(id));
    if (flags.json) printJson(retried);
    else process.stdout.write(`${retried.job.id} ${retried.job.state} (retry of ${retried.retryOf})\n`);
  });
}
