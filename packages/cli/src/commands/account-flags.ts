import { ownerSchema } from '@baton/core';
import type { Quota, QuotaPatch } from '@baton/client';
import { CliError } from '../cli-error.js';

/**
 * Flags and arguments of the account commands, checked before anything is sent, with the
 * server's own limits (a value it would refuse is refused here, naming the flag).
 */

/** A user name argument (`baton users add NAME`), as the API checks it. */
export function userNameArgument(value: string): string {
  const result = ownerSchema.safeParse(value);
  if (!result.success) {
    throw new CliError(`user name "${value}": ${result.error.issues[0]?.message ?? 'not a valid name'}`, 2);
  }
  return result.data;
}

/** A token id argument: the 16 hexadecimal characters after `baton_`. */
export function tokenIdArgument(value: string): string {
  if (!/^[0-9a-f]{16}$/.test(value)) {
    throw new CliError(`token id "${value}" must be 16 hexadecimal characters (the ID column of baton tokens list)`, 2);
  }
  return value;
}

/** `--weight`: a share of the fleet, a number > 0. */
export function weightOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1_000_000) {
    throw new CliError(`--weight must be a number greater than 0 and at most 1000000, got "${value}"`, 2);
  }
  return n;
}

/**
 * `none` as parsed: commander turns an option parser's null into '', so the parsers keep the
 * word and {@link quotaPatchOf} makes it null.
 */
const UNLIMITED = 'none';
type LimitValue = number | typeof UNLIMITED;

/** A quota limit flag: a whole number from 0, or `none` (unlimited). */
function limitOption(flag: string, max: number) {
  return (value: string): LimitValue => {
    if (value === UNLIMITED) return UNLIMITED;
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n > max) {
      throw new CliError(`${flag} must be a whole number from 0 to ${max}, or none (unlimited), got "${value}"`, 2);
    }
    return n;
  };
}

/** `--submit-rate`: submissions per second, a number > 0, or `none`. */
function rateOption(value: string): LimitValue {
  if (value === UNLIMITED) return UNLIMITED;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1_000_000) {
    throw new CliError(
      `--submit-rate must be a number of submissions per second greater than 0 (at most 1000000), or none, got "${value}"`,
      2,
    );
  }
  return n;
}

/** The quota flags: the flag, its help, its parser, and the quota field it sets. */
export const QUOTA_FLAGS = [
  {
    flag: '--max-running <n>',
    help: 'jobs assigned or running at once (none: unlimited)',
    parse: limitOption('--max-running', 10_000_000),
    key: 'maxRunning',
    field: 'maxRunningJobs',
  },
  {
    flag: '--max-gpus <n>',
    help: 'GPUs held by running jobs at once (none: unlimited)',
    parse: limitOption('--max-gpus', 1_000_000),
    key: 'maxGpus',
    field: 'maxGpus',
  },
  {
    flag: '--max-queued <n>',
    help: 'jobs queued or delayed at once (none: unlimited)',
    parse: limitOption('--max-queued', 1_000_000_000),
    key: 'maxQueued',
    field: 'maxQueuedJobs',
  },
  {
    flag: '--submit-rate <r>',
    help: 'submissions per second (none: unlimited)',
    parse: rateOption,
    key: 'submitRate',
    field: 'submitRatePerSec',
  },
] as const satisfies readonly {
  flag: string;
  help: string;
  parse: (value: string) => LimitValue;
  key: string;
  field: keyof Quota;
}[];

/** The patch the quota flags given make; fields of flags not given are left out (unchanged). */
export function quotaPatchOf(flags: Record<string, unknown>): QuotaPatch {
  const patch: QuotaPatch = {};
  for (const { key, field } of QUOTA_FLAGS) {
    const value = flags[key] as LimitValue | undefined;
    if (value !== undefined) patch[field] = value === UNLIMITED ? null : value;
  }
  return patch;
}
