import { Command, CommanderError } from 'commander';
import { registerClientCommands } from './client-commands.js';
import { registerAgentCommand } from './agent-command.js';
import { registerDeployCommand } from './commands/deploy.js';
import { registerDevCommand } from './dev.js';
import { registerServerCommand } from './server-command.js';
import { registerStoreCommand } from './store-command.js';
import { CliError } from './cli-error.js';

/** The `baton` command. Exit code 0 on success, 1 on a failed operation, 2 on bad usage. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('baton')
    .description('Baton: a job and workflow orchestrator for CPU and GPU fleets')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDevCommand(program);
  registerServerCommand(program);
  registerAgentCommand(program);
  registerStoreCommand(program);
  registerClientCommands(program);
  registerDeployCommand(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (or help/version output).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(`baton: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}
