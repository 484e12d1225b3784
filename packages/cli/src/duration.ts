import { CliError } from './cli-error.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration flag: a whole number with a unit (`90s`, `15m`, `12h`, `7d`, `250ms`) or
 * plain milliseconds; `0` is zero, and `zeroMeans` says what zero does for this flag, in the
 * message. Anything else fails with a message naming the flag (exit 2).
 */
export function durationOption(flag: string, zeroMeans?: string) {
  const zero = zeroMeans ? ` (0 ${zeroMeans})` : '';
  return (value: string): number => {
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
    const ms = m ? Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1) : NaN;
    if (!Number.isSafeInteger(ms)) {
      throw new CliError(
        `${flag} must be a duration like 90s, 15m, 12h, 7d or plain milliseconds${zero}, got "${value}"`,
        2,
      );
    }
    return ms;
  };
}
