import type { Command } from 'commander';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, tokenFor, withConnection } from './connection.js';

/**
 * `baton dashboard`: the dashboard's address, signed in. The token travels in the URL's
 * fragment, which browsers never send to a server (so it reaches no access log) and which the
 * page wipes from the address bar once read. The token is checked first, so a stale one is an
 * error here rather than a sign-in page there.
 */
export function registerDashboardCommand(program: Command): void {
  withConnection(
    program
      .command('dashboard')
      .description('print a link that opens the web dashboard signed in with your token')
      .option('--no-sign-in', 'print the plain address (sign in on the page)'),
  ).action(async (flags: ConnectionOptions & { signIn: boolean }) => {
    const base = flags.server.replace(/\/+$/, '');
    const token = tokenFor(flags);
    if (!flags.signIn || token === undefined) {
      process.stdout.write(`${base}/\n`);
      if (flags.signIn) process.stderr.write('baton: no token known for this server: sign in on the page\n');
      return;
    }
    const me = await api(clientFor(flags).whoami());
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ url: `${base}/#token=${encodeURIComponent(token)}`, name: me.name, role: me.role })}\n`,
      );
      return;
    }
    process.stdout.write(`${base}/#token=${encodeURIComponent(token)}\n`);
    process.stderr.write(
      `baton: the link signs in as ${me.name} (${me.role}); it holds your token, share it with no one\n`,
    );
  });
}
