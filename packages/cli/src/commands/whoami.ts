import type { Command } from 'commander';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';
import { quotaLines } from './quota.js';

/** `baton whoami`: who the token acts as, and the quota that applies. */
export function registerWhoamiCommand(program: Command): void {
  withConnection(program.command('whoami').description('who your token acts as, and your quota')).action(
    async (flags: ConnectionOptions) => {
      const me = await api(clientFor(flags).whoami());
      if (flags.json) return printJson(me);
      const builtIn = me.builtIn ? ', built in' : '';
      process.stdout.write(
        `${[`${me.name} (role ${me.role}, weight ${me.weight}${builtIn})`, 'quota:', ...quotaLines(me.quota)].join('\n')}\n`,
      );
    },
  );
}
