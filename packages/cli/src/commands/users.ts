import type { Command } from 'commander';
import type { Role } from '@baton/client';
import { CliError, choiceOption } from '../cli-error.js';
import { shortTime, table } from '../format.js';
import { userNameArgument, weightOption } from './account-flags.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

const ROLES: readonly Role[] = ['user', 'admin', 'viewer'];

interface AddFlags extends ConnectionOptions {
  role?: Role;
  weight?: number;
}

/** `baton users add|list|set|remove`: the server's users (admin). */
export function registerUsersCommand(program: Command): void {
  const users = program.command('users').description("manage the server's users (admin)");

  withConnection(
    users
      .command('add')
      .description('create a user')
      .argument('<name>', 'user name: letters, digits and . _ : -', userNameArgument)
      .option('--role <role>', 'user | admin | viewer (default user)', choiceOption('--role', ROLES))
      .option('--weight <w>', 'share of the fleet under fair share, > 0 (default 1)', weightOption),
  ).action(async (name: string, flags: AddFlags) => {
    const user = await api(
      clientFor(flags).createUser({
        name,
        ...(flags.role !== undefined && { role: flags.role }),
        ...(flags.weight !== undefined && { weight: flags.weight }),
      }),
    );
    if (flags.json) return printJson(user);
    process.stdout.write(`created user ${user.name} (role ${user.role}, weight ${user.weight})\n`);
    process.stdout.write(`give them a token: baton tokens create ${user.name}\n`);
  });

  withConnection(users.command('list').description('list the users')).action(async (flags: ConnectionOptions) => {
    const list = await api(clientFor(flags).listUsers());
    if (flags.json) return printJson({ users: list });
    if (list.length === 0) {
      process.stdout.write('no users\n');
      return;
    }
    const rows = list.map((u) => [u.name, u.role, String(u.weight), shortTime(u.createdAt)]);
    process.stdout.write(`${table(['NAME', 'ROLE', 'WEIGHT', 'CREATED'], rows)}\n`);
  });

  withConnection(
    users
      .command('set')
      .description("change a user's role or weight")
      .argument('<name>', 'user name', userNameArgument)
      .option('--role <role>', 'user | admin | viewer', choiceOption('--role', ROLES))
      .option('--weight <w>', 'share of the fleet under fair share, > 0', weightOption),
  ).action(async (name: string, flags: AddFlags) => {
    if (flags.role === undefined && flags.weight === undefined)
      throw new CliError('give --role or --weight (or both)', 2);
    const user = await api(
      clientFor(flags).updateUser(name, {
        ...(flags.role !== undefined && { role: flags.role }),
        ...(flags.weight !== undefined && { weight: flags.weight }),
      }),
    );
    if (flags.json) return printJson(user);
    process.stdout.write(`user ${user.name}: role ${user.role}, weight ${user.weight}\n`);
  });

  withConnection(
    users
      .command('remove')
      .description('delete a user and their tokens (their jobs stay)')
      .argument('<name>', 'user name', userNameArgument),
  ).action(async (name: string, flags: ConnectionOptions) => {
    const removed = await api(clientFor(flags).deleteUser(name));
    if (flags.json) return printJson(removed);
    process.stdout.write(`removed user ${removed.name}\n`);
  });
}
