import type { Command } from 'commander';
import { copyJobs, openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { CliError } from './cli-error.js';

interface CopyFlags {
  from: string;
  to: string;
}

/** `baton store …`: store administration. */
export function registerStoreCommand(program: Command): void {
  const store = program.command('store').description('store administration');
  store
    .command('copy')
    .description(
      'copy every job (attempts and idempotency keys kept), the task routes and the runtime history to another store (e.g. SQLite to PostgreSQL); stop the old servers first',
    )
    .requiredOption('--from <url>', 'the store to copy from (sqlite:…, postgres://…, redis://…)')
    .requiredOption('--to <url>', 'the store to copy to; created and migrated if new')
    .action(async (flags: CopyFlags) => {
      if (flags.from === flags.to) throw new CliError('--from and --to name the same store', 2);
      const from = await open(flags.from, '--from');
      let to: Store;
      try {
        to = await open(flags.to, '--to');
      } catch (err) {
        await from.close();
        throw err;
      }
      try {
        const result = await copyJobs(from, to, {
          onProgress: (p) => process.stdout.write(`${p.state}: ${p.read} read, ${p.copied} copied\n`),
        });
        process.stdout.write(
          `done: ${result.copied} job(s) copied, ${result.skipped} already there, ${result.routes} task route(s), ` +
            `${result.runtimeClasses} runtime class(es)\n`,
        );
      } finally {
        await Promise.all([from.close(), to.close()]);
      }
    });
}

async function open(url: string, flag: string): Promise<Store> {
  try {
    return await openStore(url);
  } catch (err) {
    throw new CliError(`${flag}: cannot open store ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
