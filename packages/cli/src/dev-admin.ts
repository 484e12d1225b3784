import { randomBytes } from 'node:crypto';
import { CliError } from './cli-error.js';
import { credentialsPath, saveToken, savedToken } from './credentials.js';
import type { ServeOptions } from './serve.js';
import { adminTokenOf } from './serve.js';

/** Where `baton dev`'s admin token came from: a new one is printed once, a known one never. */
export interface DevAdminToken {
  token: string;
  generated: boolean;
}

/** The URL `server.listen` will answer for these flags (as the server spells it), or null for port 0. */
export function predictedUrl(options: Pick<ServeOptions, 'host' | 'port' | 'tlsCert'>): string | null {
  if (options.port === 0) return null;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return `${options.tlsCert === undefined ? 'http' : 'https'}://${host}:${options.port}`;
}

/**
 * `baton dev` needs no setup: its admin token is `--admin-token`, else `BATON_ADMIN_TOKEN`,
 * else the one saved for its URL by an earlier run (so tokens given out keep working), else a
 * new random one.
 */
export function devAdminToken(options: ServeOptions, env: NodeJS.ProcessEnv = process.env): DevAdminToken {
  const given = adminTokenOf(options, env);
  if (given !== undefined) return { token: given, generated: false };
  const url = predictedUrl(options);
  const saved = url === null ? undefined : savedToken(url, env);
  if (saved !== undefined) return { token: saved, generated: false };
  return { token: `baton_admin_${randomBytes(32).toString('base64url')}`, generated: true };
}

/**
 * Saves the admin token for `url`, so that `baton` commands on this machine find it, and says
 * so: the token itself only when it was just generated. A file that cannot be written is a
 * warning, not a failure: the server runs, and a new token is shown so it can still be used.
 */
export function saveDevAdminToken(url: string, admin: DevAdminToken, env: NodeJS.ProcessEnv = process.env): string {
  const shown = admin.generated ? `${admin.token} (new) ` : '';
  try {
    const path = saveToken(url, admin.token, env);
    return `  admin:  token ${shown}saved in ${path}; baton commands on this machine use it`;
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`baton: warning: ${err.message}\n`);
    return `  admin:  token ${shown}not saved in ${credentialsPath(env)}: give it with --token or BATON_TOKEN`;
  }
}
