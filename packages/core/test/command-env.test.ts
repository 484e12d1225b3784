import { describe, expect, it } from 'vitest';
import { commandEnvIssues, commandEnvNameProblem } from '@baton/core';

describe('command env rule', () => {
  it.each([
    'LD_PRELOAD',
    'LD_LIBRARY_PATH',
    'LD_AUDIT',
    'DYLD_INSERT_LIBRARIES',
    'GLIBC_TUNABLES',
    'GCONV_PATH',
    'BASH_ENV',
    'ENV',
    'BASH_FUNC_ls%%',
    'SHELLOPTS',
    'PS4',
    'NODE_OPTIONS',
    'NODE_PATH',
    'PYTHONSTARTUP',
    'PYTHONPATH',
    'PYTHONHOME',
    'PYTHONUSERBASE',
    'PERL5OPT',
    'PERL5LIB',
    'RUBYOPT',
    'RUBYLIB',
    'JAVA_TOOL_OPTIONS',
    '_JAVA_OPTIONS',
    'CLASSPATH',
    'LUA_INIT_5_4',
  ])('refuses the loader or interpreter hook %s', (name) => {
    expect(commandEnvNameProblem(name)).toMatch(/may not be set by a job: .*--pass-env or --command-env/);
  });

  it('refuses what Baton owns: BATON_* and CUDA_VISIBLE_DEVICES', () => {
    expect(commandEnvNameProblem('BATON_AGENT_TOKEN')).toMatch(/reserved for Baton/);
    expect(commandEnvNameProblem('BATON_ANYTHING')).toMatch(/reserved for Baton/);
    expect(commandEnvNameProblem('CUDA_VISIBLE_DEVICES')).toMatch(/GPUs reserved for the job/);
  });

  it.each([
    'PYTHONUNBUFFERED',
    'PYTHONHASHSEED',
    'NODE_ENV',
    'MALLOC_ARENA_MAX',
    'OMP_NUM_THREADS',
    'CUDA_DEVICE_ORDER',
    'PATH',
    'HOME',
    'WANDB_MODE',
    'ld_preload', // the loader reads names case-sensitively
    'OLD_PRELOAD', // a prefix counts only at the start
    'ENVIRONMENT',
  ])('allows the ordinary variable %s', (name) => {
    expect(commandEnvNameProblem(name)).toBeNull();
  });

  it('refuses empty names and names holding "=" or NUL', () => {
    for (const name of ['', 'A=B', 'A\0B']) expect(commandEnvNameProblem(name)).toMatch(/no "=" or NUL/);
  });

  it('lists every problem of an env object, by variable', () => {
    expect(commandEnvIssues({ OK: 'x', LD_PRELOAD: 'y', N: 1, Z: 'a\0b' }).map((i) => i.path)).toEqual([
      'LD_PRELOAD',
      'N',
      'Z',
    ]);
    expect(commandEnvIssues({ OK: 'x' })).toEqual([]);
    expect(commandEnvIssues(['A=1'])).toEqual([{ path: '', message: 'must be an object of string values' }]);
    expect(commandEnvIssues('A=1')).toEqual([{ path: '', message: 'must be an object of string values' }]);
  });
});
