import { createHash } from 'node:crypto';
import type { BatonConfig } from '@baton/core';
import { yamlText } from './rendered-file.js';

/** Where the servers of every target read their `baton.yaml` (`baton server --config`). */
export const CONFIG_PATH = '/etc/baton/baton.yaml';

/**
 * The pools and scaling settings as a `baton.yaml` the servers read, every default written out,
 * so what runs is exactly what was rendered (a later Baton's other defaults change nothing).
 * `deploy:` is left out: only render reads it.
 */
export function serverConfigText(config: BatonConfig): string {
  // Keys sorted: the same config gives the same text (and checksum) however it was built.
  const pools = Object.fromEntries(
    config.pools.map(({ name, ...pool }) => [
      name,
      Object.fromEntries(Object.entries(pool).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    ]),
  );
  return yamlText([{ pools, scaling: config.scaling }]);
}

/** A short hash of the config text: a pod annotation that rolls the servers when it changes. */
export function configChecksum(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
