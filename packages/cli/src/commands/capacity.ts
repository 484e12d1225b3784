import type { Command } from 'commander';
import { table } from '../format.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

export function registerCapacityCommand(program: Command): void {
  withConnection(program.command('capacity').description('show slots per pool, their totals, and GPUs')).action(
    async (flags: ConnectionOptions) => {
      const capacity = await api(clientFor(flags).capacity());
      if (flags.json) return printJson(capacity);
      const out: string[] = [];
      if (capacity.slots.length === 0) out.push('no connected agents');
      else {
        const rows = capacity.slots.map((p) =>
          [p.name, p.capacity, p.target, p.used, p.available, p.holders].map(String),
        );
        out.push(table(['POOL', 'CAPACITY', 'TARGET', 'USED', 'AVAILABLE', 'JOBS'], rows), '');
      }
      const { totals, gpus } = capacity;
      out.push(`slots: ${totals.capacity} total, ${totals.used} used, ${totals.available} available`);
      out.push(
        `gpus:  ${gpus.total} total, ${gpus.used} used, ${gpus.available} available, ${gpus.unhealthy} unhealthy`,
      );
      process.stdout.write(`${out.join('\n')}\n`);
    },
  );
}
