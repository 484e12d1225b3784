import { readFileSync, statSync } from 'node:fs';
import { CliError } from './cli-error.js';

/** Reads a file a flag names (a certificate, a key, a token), failing with a usage error that names the flag. */
export function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`${flag}: no such file ${path}`, 2);
    if (code === 'EACCES') throw new CliError(`${flag}: cannot read ${path} (permission denied)`, 2);
    if (code === 'EISDIR') throw new CliError(`${flag}: ${path} is a directory, not a file`, 2);
    throw new CliError(`${flag}: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
}

/**
 * Reads a secret kept in a file (`--token-file`): the file's text without its trailing newline.
 * An empty file is a usage error. A file that group or others may read is used, with a warning:
 * anyone on the machine who can read it can act as an agent.
 */
export function readSecretFile(flag: string, path: string, warn: (line: string) => void): string {
  const secret = readFlagFile(flag, path)
    .toString('utf8')
    .replace(/[\r\n]+$/, '');
  if (secret.trim() === '') throw new CliError(`${flag}: ${path} is empty; it must hold the agent token`, 2);
  if (/[\r\n]/.test(secret)) throw new CliError(`${flag}: ${path} holds several lines; it must hold only the token`, 2);
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    warn(`${flag}: ${path} can be read by group or others (mode ${mode.toString(8)}); chmod 600 it`);
  }
  return secret;
}
