import type { Command } from 'commander';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

export function registerCancelCommand(program: Command): void {
  withConnection(program.command('cancel').description('cancel a job').argument('<id>', 'job id')).action(
    async (id: string, flags: ConnectionOptions) => {
      const job = await api(clientFor(flags).cancel(id));
      if (flags.json) printJson(job);
      else process.stdout.write(`${job.id} ${job.state}\n`);
    },
  );
}
