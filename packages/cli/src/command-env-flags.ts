import { COMMAND_GPU_ENV } from '@baton/core';
import { CliError } from './cli-error.js';

/** The variable the agent token may come in: never handed on to commands. */
const TOKEN_ENV = 'BATON_AGENT_TOKEN';

function checkName(flag: string, name: string): void {
  if (name === '' || name.includes('=') || name.includes('\0')) {
    throw new CliError(`${flag} "${name}": a variable name must be non-empty and hold no "="`, 2);
  }
  if (name === COMMAND_GPU_ENV) {
    throw new CliError(`${flag} ${name}: the agent sets it to the GPUs reserved for each job`, 2);
  }
  if (name === TOKEN_ENV) throw new CliError(`${flag} ${name}: the agent token is never given to commands`, 2);
}

/**
 * The variables every command of this agent gets besides the clean base: `--pass-env NAME`
 * copies NAME from the agent's environment (a warning when it is not set there), then
 * `--command-env NAME=VALUE` sets one.
 */
export function commandEnvFromFlags(
  passEnv: readonly string[],
  commandEnv: readonly string[],
  from: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of passEnv) {
    checkName('--pass-env', name);
    const value = from[name];
    if (value === undefined) warn(`--pass-env ${name}: not set in the agent's environment; commands will not get it`);
    else env[name] = value;
  }
  for (const entry of commandEnv) {
    const eq = entry.indexOf('=');
    if (eq < 0) throw new CliError(`--command-env "${entry}": expected NAME=VALUE`, 2);
    const name = entry.slice(0, eq);
    checkName('--command-env', name);
    env[name] = entry.slice(eq + 1);
  }
  return env;
}
