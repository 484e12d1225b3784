import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonApiError } from '@baton/client';
import { Command } from 'commander';
import { QUOTA_FLAGS, quotaPatchOf } from '../src/commands/account-flags.js';
import { errorLine } from '../src/commands/connection.js';
import { closedPort, runBaton } from './baton-run.js';

/**
 * The account commands check every flag and argument before sending anything: the server
 * given is one where nothing listens, so a command that sent would fail UNREACHABLE (exit 1)
 * instead of exit 2 with the flag's message.
 */
describe('account commands refuse bad usage with exit 2, one line, and send nothing', () => {
  let server: string;
  let configDir: string;
  beforeAll(async () => {
    server = `http://127.0.0.1:${await closedPort()}`;
    configDir = mkdtempSync(join(tmpdir(), 'baton-flags-'));
  });
  afterAll(() => rmSync(configDir, { recursive: true, force: true }));

  it.each([
    [['users', 'add', 'b d'], /^baton: user name "b d": user may hold only letters, digits and/],
    [['users', 'add', '-ada'], /unknown option '-ada'|user name/],
    [['users', 'add', 'ada', '--role', 'boss'], /^baton: --role must be one of user, admin, viewer, got "boss"$/],
    [
      ['users', 'add', 'ada', '--weight', '0'],
      /^baton: --weight must be a number greater than 0 and at most 1000000, got "0"$/,
    ],
    [['users', 'add', 'ada', '--weight', 'heavy'], /^baton: --weight must be a number greater than 0.*got "heavy"$/],
    [['users', 'remove', 'a/b'], /^baton: user name "a\/b"/],
    [['tokens', 'create', ''], /^baton: user name "": user must not be empty$/],
    [['tokens', 'list', 'a b'], /^baton: user name "a b"/],
    [['tokens', 'revoke', 'XYZ'], /^baton: token id "XYZ" must be 16 hexadecimal characters/],
    [['quota', 'set', 'ada'], /^baton: give at least one of --max-running, --max-gpus, --max-queued, --submit-rate$/],
    [['quota', 'set', '--max-running', '2'], /^baton: give a user NAME, or --default for the default quota$/],
    [['quota', 'set', 'ada', '--default', '--max-gpus', '1'], /^baton: give a user NAME or --default, not both$/],
    [
      ['quota', 'set', 'ada', '--max-running', '-1'],
      /^baton: --max-running must be a whole number from 0 to 10000000, or none \(unlimited\), got "-1"$/,
    ],
    [['quota', 'set', 'ada', '--max-gpus', '1.5'], /^baton: --max-gpus must be a whole number/],
    [['quota', 'set', 'ada', '--max-queued', 'lots'], /^baton: --max-queued must be a whole number/],
    [
      ['quota', 'set', 'ada', '--submit-rate', '0'],
      /^baton: --submit-rate must be a number of submissions per second greater than 0.*got "0"$/,
    ],
    [['quota', 'set', '--default', '--submit-rate', 'fast'], /^baton: --submit-rate must be/],
    [['quota', 'show'], /^baton: give a user NAME, or --default for the default quota$/],
    [['quota', 'reset'], /missing required argument 'name'/],
    [
      ['whoami', '--token', 'two words'],
      /^baton: the token \(--token or BATON_TOKEN\) must be printable ASCII without spaces$/,
    ],
  ])('baton %j', async (args, message) => {
    const r = await runBaton([...args, '--server', server], { BATON_CONFIG_DIR: configDir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/UNREACHABLE|cannot reach/);
    expect(r.stdout).toBe('');
  });

  it('a token with a space is refused without being shown', async () => {
    const r = await runBaton(['jobs', '--server', server], {
      BATON_CONFIG_DIR: configDir,
      BATON_TOKEN: 'secret words',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('secret');
  });
});

describe('API errors as one line', () => {
  it('says how long to wait on a 429, and where a token comes from on a 401', () => {
    const env = { BATON_CONFIG_DIR: '/cfg' };
    expect(errorLine(new BatonApiError(429, 'RATE_LIMITED', 'over 2 submissions/s', null, 3), env)).toBe(
      'over 2 submissions/s (RATE_LIMITED; retry after 3 s)',
    );
    expect(errorLine(new BatonApiError(401, 'UNAUTHORIZED', 'this API needs a token'), env)).toBe(
      'this API needs a token (UNAUTHORIZED): give --token, set BATON_TOKEN, or save a token for this server in /cfg/credentials.json',
    );
    expect(errorLine(new BatonApiError(403, 'FORBIDDEN', 'admins only'), env)).toBe('admins only (FORBIDDEN)');
    expect(errorLine(new BatonApiError(0, 'UNREACHABLE', 'cannot reach Baton at http://h'), env)).toBe(
      'cannot reach Baton at http://h',
    );
  });
});

describe('the quota flags as parsed', () => {
  const patchOf = (args: string[]) => {
    const command = new Command('set').exitOverride();
    for (const { flag, help, parse } of QUOTA_FLAGS) command.option(flag, help, parse);
    command.parse(args, { from: 'user' });
    return quotaPatchOf(command.opts());
  };

  it('sends none as null (unlimited), numbers as numbers, and leaves out flags not given', () => {
    expect(patchOf(['--max-running', 'none', '--submit-rate', '2.5'])).toEqual({
      maxRunningJobs: null,
      submitRatePerSec: 2.5,
    });
    expect(patchOf(['--max-gpus', '0', '--max-queued', 'none'])).toEqual({ maxGpus: 0, maxQueuedJobs: null });
    expect(patchOf([])).toEqual({});
  });
});
