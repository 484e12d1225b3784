import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError } from './cli-error.js';

/**
 * The tokens this machine's user keeps per server, so that `baton` commands find theirs
 * without a flag: `credentials.json` in `$BATON_CONFIG_DIR`, else `$XDG_CONFIG_HOME/baton`,
 * else `~/.config/baton`. `{"servers": {"<base URL>": {"token": "…"}}}`.
 */
export const CREDENTIALS_FILE = 'credentials.json';

const credentialsSchema = z.object({
  servers: z.record(z.string(), z.looseObject({ token: z.string().min(1) })),
});
type Credentials = z.infer<typeof credentialsSchema>;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BATON_CONFIG_DIR) return env.BATON_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'baton');
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), CREDENTIALS_FILE);
}

/**
 * One server's key in the file: its origin and path without a trailing slash, so that
 * `http://127.0.0.1:7070/` and `http://127.0.0.1:7070` are one server.
 */
export function serverKey(baseUrl: string): string {
  const url = new URL(baseUrl);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The file's servers; none when it does not exist. A file that is not ours is an error, named. */
function readCredentials(path: string): Credentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} };
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not JSON; fix or remove it`);
  }
  const result = credentialsSchema.safeParse(parsed);
  // The message names the file, never its content: the content is tokens.
  if (!result.success) throw new CliError(`${path} is not a Baton credentials file ({"servers": {URL: {"token": …}}})`);
  return result.data;
}

/** The token saved for `baseUrl`, or undefined. */
export function savedToken(baseUrl: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return readCredentials(credentialsPath(env)).servers[serverKey(baseUrl)]?.token;
}

/**
 * Saves `token` for `baseUrl`, keeping the other servers'. The directory is made 0700 and the
 * file written 0600 under a temporary name and renamed over the old one, so a reader never sees
 * half a file and the token is never readable by others, not even for a moment. Returns the path.
 */
export function saveToken(baseUrl: string, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configDir(env);
  const path = join(dir, CREDENTIALS_FILE);
  const credentials = readCredentials(path);
  credentials.servers[serverKey(baseUrl)] = { ...credentials.servers[serverKey(baseUrl)], token };
  // Made 0700 when made here (the umask cannot widen it); a directory the user chose is left as it is.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${CREDENTIALS_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    // The mode given at creation is cut by the umask; 0600 is what the file must have.
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new CliError(`cannot save the token in ${path}: ${(err as Error).message}`);
  }
  return path;
}
