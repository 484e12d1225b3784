/**
 * The environment rules of the built-in `command` task, shared by the server (which refuses a
 * bad `payload.env` with 400 at submission) and the agent (which fails such a job, not retried,
 * should one arrive anyway).
 *
 * A command starts from a clean environment, never the agent's own (which holds its token):
 * the variables below copied from the agent, what the operator adds (`--pass-env`,
 * `--command-env`), the payload's `env`, then `CUDA_VISIBLE_DEVICES`.
 */

/**
 * Copied from the agent's environment when set: what programs need to find programs, a home,
 * a locale, a time zone and a scratch directory. None of them carries a secret.
 */
export const COMMAND_BASE_ENV: readonly string[] = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/** Set by the agent for every command: the GPUs reserved for the job. */
export const COMMAND_GPU_ENV = 'CUDA_VISIBLE_DEVICES';

/**
 * Payload variables that would change which code runs rather than configure it: each makes
 * the dynamic loader, libc, a shell or a language runtime load or run code named by the
 * variable (a library, a module path, inline code, extra interpreter options) in every process
 * of that kind, before or around the program in `argv`. Refused so that a command's `argv` means
 * what it says. Operators who need one (say `LD_LIBRARY_PATH` for CUDA) give it to every command
 * with `baton agent --pass-env` or `--command-env`, which this rule does not restrict.
 */
const HOOK_NAMES = new Set([
  // libc and the loader (every dynamically linked program)
  'GLIBC_TUNABLES',
  'GCONV_PATH',
  // shells: start-up files, option strings, xtrace prompts run with `$(…)` expanded
  'BASH_ENV',
  'ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  // Node.js
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_REPL_EXTERNAL_MODULE',
  // Python
  'PYTHONSTARTUP',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONUSERBASE',
  'PYTHONPYCACHEPREFIX',
  // Perl, Ruby
  'PERL5OPT',
  'PERL5LIB',
  'PERLLIB',
  'PERL5DB',
  'RUBYOPT',
  'RUBYLIB',
  // the JVM
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'CLASSPATH',
]);

/** Prefixes of the same kind: whole families of loader and interpreter hooks. */
const HOOK_PREFIXES = [
  'LD_', // LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, …
  'DYLD_', // macOS: DYLD_INSERT_LIBRARIES, …
  'BASH_FUNC_', // exported bash functions: `BASH_FUNC_ls%%` replaces `ls` in every bash script
  'LUA_INIT', // LUA_INIT, LUA_INIT_5_4: code run at start
  'LUA_PATH',
  'LUA_CPATH',
];

/**
 * Why a payload may not set the variable `name`, or null when it may. Names are matched
 * exactly (the loader and interpreters read them case-sensitively).
 */
export function commandEnvNameProblem(name: string): string | null {
  if (name === '' || name.includes('=') || name.includes('\0')) {
    return 'variable names must be non-empty and hold no "=" or NUL';
  }
  if (name === COMMAND_GPU_ENV) {
    return 'may not be set: the agent sets it to the GPUs reserved for the job (ask for GPUs in resources)';
  }
  if (name.startsWith('BATON_')) return 'may not be set: BATON_* variables are reserved for Baton';
  if (HOOK_NAMES.has(name) || HOOK_PREFIXES.some((prefix) => name.startsWith(prefix))) {
    return (
      'may not be set by a job: it makes the loader or an interpreter run other code; ' +
      'an agent operator can give it to every command with --pass-env or --command-env'
    );
  }
  return null;
}

/** One refused entry of a command's `env`: `path` is relative to `env` (`LD_PRELOAD`), or '' for `env` itself. */
export interface CommandEnvIssue {
  path: string;
  message: string;
}

/**
 * Checks a command payload's `env`: an object of string values whose names are allowed and
 * which holds no NUL. Returns every problem (empty when there is none).
 */
export function commandEnvIssues(env: unknown): CommandEnvIssue[] {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    return [{ path: '', message: 'must be an object of string values' }];
  }
  const issues: CommandEnvIssue[] = [];
  for (const [name, value] of Object.entries(env)) {
    const problem = commandEnvNameProblem(name);
    if (problem) issues.push({ path: name, message: problem });
    else if (typeof value !== 'string') issues.push({ path: name, message: 'values must be strings' });
    else if (value.includes('\0')) issues.push({ path: name, message: 'must not contain NUL characters' });
  }
  return issues;
}
