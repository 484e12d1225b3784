import type { Command } from 'commander';
import { shortTime, table } from '../format.js';
import { tokenIdArgument, userNameArgument } from './account-flags.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

/** `baton tokens create|list|revoke`: API tokens (admin, or a user for their own). */
export function registerTokensCommand(program: Command): void {
  const tokens = program.command('tokens').description('manage API tokens (admin, or your own)');

  withConnection(
    tokens
      .command('create')
      .description('create a token for a user; it is printed this once')
      .argument('<name>', 'the user the token acts as', userNameArgument),
  ).action(async (name: string, flags: ConnectionOptions) => {
    const created = await api(clientFor(flags).createToken(name));
    if (flags.json) printJson(created);
    // The token alone on stdout (`baton tokens create ada > ada.token`); the warning on stderr.
    else process.stdout.write(`${created.token}\n`);
    process.stderr.write(
      `token ${created.id} for ${created.user}: it is not shown again (the server keeps only its hash); ` +
        'keep it secret, e.g. in BATON_TOKEN\n',
    );
  });

  withConnection(
    tokens
      .command('list')
      .description("list a user's tokens (never their secrets)")
      .argument('<name>', 'user name', userNameArgument),
  ).action(async (name: string, flags: ConnectionOptions) => {
    const list = await api(clientFor(flags).listTokens(name));
    if (flags.json) return printJson({ tokens: list });
    if (list.length === 0) {
      process.stdout.write(`no tokens for ${name}\n`);
      return;
    }
    const rows = list.map((t) => [t.id, t.user, shortTime(t.createdAt)]);
    process.stdout.write(`${table(['ID', 'USER', 'CREATED'], rows)}\n`);
  });

  withConnection(
    tokens
      .command('revoke')
      .description('revoke a token: requests with it are refused from now on')
      .argument('<id>', 'token id (16 hex characters, as listed)', tokenIdArgument),
  ).action(async (id: string, flags: ConnectionOptions) => {
    const revoked = await api(clientFor(flags).revokeToken(id));
    if (flags.json) return printJson(revoked);
    process.stdout.write(`revoked token ${revoked.id} of ${revoked.user}\n`);
  });
}
