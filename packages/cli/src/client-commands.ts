import type { Command } from 'commander';

/** Placeholder until the client commands land. */
export function registerClientCommands(_program: Command): void {}
