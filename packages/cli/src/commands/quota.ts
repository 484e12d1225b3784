import type { Command } from 'commander';
import type { Quota } from '@baton/client';
import { CliError } from '../cli-error.js';
import { QUOTA_FLAGS, quotaPatchOf, userNameArgument } from './account-flags.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

interface TargetFlags extends ConnectionOptions {
  default?: boolean;
}

/** The quota's lines, `unlimited` for null. */
export function quotaLines(quota: Quota): string[] {
  const text = (n: number | null, unit = '') => (n === null ? 'unlimited' : `${n}${unit}`);
  return [
    `  max running:  ${text(quota.maxRunningJobs)}`,
    `  max gpus:     ${text(quota.maxGpus)}`,
    `  max queued:   ${text(quota.maxQueuedJobs)}`,
    `  submit rate:  ${text(quota.submitRatePerSec, '/s')}`,
  ];
}

function printQuota(title: string, quota: Quota): void {
  process.stdout.write(`${[title, ...quotaLines(quota)].join('\n')}\n`);
}

/** NAME or --default, exactly one. */
function targetOf(name: string | undefined, flags: TargetFlags): string | null {
  if (flags.default && name !== undefined) throw new CliError('give a user NAME or --default, not both', 2);
  if (!flags.default && name === undefined)
    throw new CliError('give a user NAME, or --default for the default quota', 2);
  return flags.default ? null : (name as string);
}

/** `baton quota show|set|reset`: users' quotas and the default (set and reset: admin). */
export function registerQuotaCommand(program: Command): void {
  const quota = program.command('quota').description("users' quotas and the default quota");

  withConnection(
    quota
      .command('show')
      .description("a user's quota (their own or the default), or the default")
      .argument('[name]', 'user name', userNameArgument)
      .option('--default', 'the default quota, of users without their own', false),
  ).action(async (name: string | undefined, flags: TargetFlags) => {
    const user = targetOf(name, flags);
    const client = clientFor(flags);
    if (user === null) {
      const value = await api(client.getDefaultQuota());
      if (flags.json) return printJson({ quota: value });
      return printQuota('default quota', value);
    }
    const view = await api(client.getQuota(user));
    if (flags.json) return printJson(view);
    printQuota(`quota of ${view.user} (${view.source === 'user' ? 'their own' : 'the default'})`, view.quota);
  });

  let set = quota
    .command('set')
    .description('change limits of a user (from then on their own quota) or the default; others stay')
    .argument('[name]', 'user name', userNameArgument)
    .option('--default', 'change the default quota', false);
  for (const { flag, help, parse } of QUOTA_FLAGS) set = set.option(flag, help, parse);
  withConnection(set).action(async (name: string | undefined, flags: TargetFlags & Record<string, unknown>) => {
    const user = targetOf(name, flags);
    const patch = quotaPatchOf(flags);
    if (Object.keys(patch).length === 0) {
      throw new CliError(`give at least one of ${QUOTA_FLAGS.map((f) => f.flag.split(' ')[0]).join(', ')}`, 2);
    }
    const client = clientFor(flags);
    if (user === null) {
      const value = await api(client.setDefaultQuota(patch));
      if (flags.json) return printJson({ quota: value });
      return printQuota('default quota', value);
    }
    const view = await api(client.setQuota(user, patch));
    if (flags.json) return printJson(view);
    printQuota(`quota of ${view.user} (their own)`, view.quota);
  });

  withConnection(
    quota
      .command('reset')
      .description("drop a user's own quota: the default applies to them again")
      .argument('<name>', 'user name', userNameArgument),
  ).action(async (name: string, flags: ConnectionOptions) => {
    const view = await api(clientFor(flags).resetQuota(name));
    if (flags.json) return printJson(view);
    printQuota(`quota of ${view.user} (the default)`, view.quota);
  });
}
