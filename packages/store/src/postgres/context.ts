import type pg from 'pg';
import { guardErrors } from './checked-out.js';
import type { EventRelay } from './notifications.js';
import type { Statement } from './sql/statement.js';

/**
 * What the PostgreSQL store's domain modules (jobs, scheduling, leases, logs, retention)
 * share: the pool, the store's clock and random source, and the relay that tells listeners
 * here and on other stores of the schema.
 */
export interface PostgresContext {
  pool: pg.Pool;
  relay: EventRelay;
  clock: () => number;
  random: () => number;
  logTailBytes: number;
  /** Runs a named statement (planned once per connection) on the pool, or on `client`. */
  run<R extends pg.QueryResultRow>(sql: Statement, values: unknown[], client?: pg.ClientBase): Promise<R[]>;
  /** Runs `work` in a transaction on one pooled connection. */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}

export function postgresContext(
  pool: pg.Pool,
  relay: EventRelay,
  settings: { clock: () => number; random: () => number; logTailBytes: number },
): PostgresContext {
  return {
    pool,
    relay,
    ...settings,
    run: async <R extends pg.QueryResultRow>(sql: Statement, values: unknown[], client?: pg.ClientBase) =>
      (await (client ?? pool).query<R>({ name: sql.name, text: sql.text, values })).rows,
    transaction: (work) => transaction(pool, work),
  };
}

async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const release = guardErrors(client);
  try {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    release();
  }
}
