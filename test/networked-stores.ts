import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * A throwaway store on the shared PostgreSQL (a schema) or Redis (a key prefix) for a test that
 * runs real `baton` processes: its URL, and how to remove everything under it afterwards.
 */
export interface NetworkedStore {
  name: 'PostgreSQL' | 'Redis';
  url: string;
  cleanup(): void;
}

/** One store of each networked backend, named `<label>_<random>` so runs never share one. */
export function networkedStores(label: string): NetworkedStore[] {
  const name = `${label}_${randomBytes(4).toString('hex')}`;
  return [
    {
      name: 'PostgreSQL',
      url: `postgres://root@127.0.0.1:5432/test?schema=${name}`,
      cleanup: () => {
        const drop = `DROP SCHEMA IF EXISTS ${name} CASCADE`;
        execFileSync('psql', ['-h', '127.0.0.1', '-U', 'root', '-q', 'test', '-c', drop]);
      },
    },
    {
      name: 'Redis',
      url: `redis://127.0.0.1:6379?prefix=${name}`,
      cleanup: () => dropRedisKeys(`{${name}}*`),
    },
  ];
}

/**
 * Deletes the shared Redis's keys matching a glob, on the server: some key names hold a NUL
 * (`ownerqueued:<queue>\0<owner>`), which no command-line argument can carry, so listing them
 * with `redis-cli --scan` and passing them back to `unlink` missed them and they piled up.
 */
export function dropRedisKeys(pattern: string): void {
  const script =
    "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) n = n + 1 end return n";
  execFileSync('redis-cli', ['-h', '127.0.0.1', 'EVAL', script, '0', pattern]);
}
