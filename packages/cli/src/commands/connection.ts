import type { Command } from 'commander';
import { BatonApiError, BatonClient } from '@baton/client';
import { CliError } from '../cli-error.js';

export interface ConnectionOptions {
  server: string;
  json: boolean;
}

/** Adds the flags every client command shares. */
export function withConnection(command: Command): Command {
  return command
    .option('--server <url>', 'Baton server URL (or BATON_SERVER)', process.env.BATON_SERVER ?? 'http://127.0.0.1:7070')
    .option('--json', 'print the API response as JSON', false);
}

/** Times a command retries a server that cannot serve it for now. */
const RETRIES = 5;

export function clientFor(options: ConnectionOptions): BatonClient {
  try {
    new URL(options.server);
  } catch {
    throw new CliError(`--server must be a URL like http://127.0.0.1:7070, got "${options.server}"`, 2);
  }
  return new BatonClient({
    baseUrl: options.server,
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
    if (err instanceof BatonApiError) {
      throw new CliError(err.code === 'UNREACHABLE' ? err.message : `${err.message} (${err.code})`);
    }
    throw err;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
