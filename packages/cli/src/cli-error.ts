/** An error the CLI reports as one line, with an exit code: 2 for bad usage, 1 otherwise. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Parses an integer option, or fails with a message naming the flag. */
export function intOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new CliError(`${flag} must be an integer from ${min} to ${max}, got "${value}"`, 2);
    }
    return n;
  };
}

/** Parses an option that must be one of `choices`, or fails with a message listing them. */
export function choiceOption<T extends string>(flag: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new CliError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`, 2);
    }
    return value as T;
  };
}
