import pg from 'pg';
import { BatonError } from '@baton/core';
import { ident } from './migrations.js';
import type { PostgresUrl } from './url.js';
import { redact } from './url.js';

/** bigint (epoch ms, counts) as a number: every value Baton stores is a safe integer. */
const INT8_OID = 20;
const parseInt8 = (text: string): number => Number(text);
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? parseInt8
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/**
 * Planner settings of every connection (see ./sql/statement.ts). Each named statement is
 * planned once per connection, generically: with 16 partitions a custom plan per call costs
 * 1–3 ms of planning for a statement that runs in a fraction of that. Sequential scans are
 * off: every statement reaches jobs by key (ids, a queue's head, a due-time or lease-expiry
 * range) through an index, and the planner, which plans with statistics that lag a burst of
 * inserts (a new schema has none), would otherwise scan whole partitions it thinks are small.
 * JIT compilation is off: never worth its milliseconds for statements this short, and
 * a disabled plan node's made-up cost would trigger it.
 */
const PLANNER_SETTINGS = ['plan_cache_mode=force_generic_plan', 'enable_seqscan=off', 'jit=off'];

/** Network-level failures: the server is not there (yet), so a retry may succeed. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

/** How every connection of a store is made: its schema first on the search path, the planner settings, bigint as number. */
export function clientConfig(url: PostgresUrl): pg.ClientConfig {
  return {
    connectionString: url.connectionString,
    // Unqualified names in every statement resolve to the store's schema.
    options: [`search_path=${ident(url.schema)}`, ...PLANNER_SETTINGS].map((s) => `-c ${s}`).join(' '),
    types: TYPES,
    connectionTimeoutMillis: 10_000,
  };
}

/** The error of a store that cannot connect at init, naming the (redacted) address. */
export function connectError(url: PostgresUrl, err: unknown): Error {
  const code = (err as { code?: string }).code;
  const reason = err instanceof Error ? err.message : String(err);
  return new BatonError(
    'STORE_UNAVAILABLE',
    `cannot connect to PostgreSQL at ${redact(url.connectionString)}: ${reason}`,
    503,
    { code },
    code !== undefined && UNREACHABLE.has(code),
  );
}
