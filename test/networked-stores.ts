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
      cleanup: () => {
        const keys = execFileSync('redis-cli', ['-h', '127.0.0.1', '--scan', '--pattern', `{${name}}*`], {
          encoding: 'utf8',
        })
          .split('\n')
          .filter(Boolean);
        for (let i = 0; i < keys.length; i += 500) {
          execFileSync('redis-cli', ['-h', '127.0.0.1', 'unlink', ...keys.slice(i, i + 500)]);
        }
      },
    },
  ];
}
