import type { Command } from 'commander';
import { BatonApiError, BatonClient } from '@baton/client';
import { CliError } from '../cli-error.js';
import { credentialsPath, savedToken } from '../credentials.js';

export interface ConnectionOptions {
  server: string;
  token?: string;
  json: boolean;
}

/** Adds the flags every client command shares. */
export function withConnection(command: Command): Command {
  return (
    command
      .option(
        '--server <url>',
        'Baton server URL (or BATON_SERVER)',
        process.env.BATON_SERVER ?? 'http://127.0.0.1:7070',
      )
      // No default shown: help must never print a token taken from the environment.
      .option('--token <token>', 'API token (or BATON_TOKEN; default: the one saved for --server by baton dev)')
      .option('--json', 'print the API response as JSON', false)
  );
}

/**
 * The token a command sends: `--token`, else `BATON_TOKEN`, else the one saved for this server
 * in the credentials file; none when there is none (a server without auth needs none).
 */
export function tokenFor(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (options.token !== undefined) return options.token;
  if (env.BATON_TOKEN) return env.BATON_TOKEN;
  return savedToken(options.server, env);
}

/** Times a command retries a server that cannot serve it for now. */
const RETRIES = 5;

export function clientFor(options: ConnectionOptions): BatonClient {
  try {
    new URL(options.server);
  } catch {
    throw new CliError(`--server must be a URL like http://127.0.0.1:7070, got "${options.server}"`, 2);
  }
  const token = tokenFor(options);
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new CliError('the token (--token or BATON_TOKEN) must be printable ASCII without spaces', 2);
  }
  return new BatonClient({
    baseUrl: options.server,
    ...(token !== undefined && { token }),
    ...(process.env.BATON_USER && { user: process.env.BATON_USER }),
    // The SDK retries a server that cannot serve for now (its store is down, it is restarting);
    // say so on stderr, so a wait is never silent.
    retry: {
      retries: RETRIES,
      // Nothing listening is said at once: most often the --server is wrong.
      retryRefused: false,
      onRetry: ({ error, retry, delayMs }) =>
        process.stderr.write(
          `baton: ${error.message} (${error.code}); retrying in ${(delayMs / 1000).toFixed(1)} s (${retry}/${RETRIES})\n`,
        ),
    },
  });
}

/** Runs an API call, turning API errors into one-line CLI errors. */
export async function api<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof BatonApiError) throw new CliError(errorLine(err));
    throw err;
  }
}

/**
 * An API error as one line: the server's message and code, how long to wait when it said
 * (`Retry-After`), and where a token comes from when none or a bad one was sent.
 */
export function errorLine(err: BatonApiError, env: NodeJS.ProcessEnv = process.env): string {
  if (err.code === 'UNREACHABLE') return err.message;
  const wait = err.retryAfterS === null ? '' : `; retry after ${err.retryAfterS} s`;
  const hint =
    err.status === 401
      ? `: give --token, set BATON_TOKEN, or save a token for this server in ${credentialsPath(env)}`
      : '';
  return `${err.message} (${err.code}${wait})${hint}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
