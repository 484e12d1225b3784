import { ValidationError } from '@baton/core';

/** What a `postgres://` store URL resolves to. */
export interface PostgresUrl {
  /** The URL without Baton's own query parameters, as `pg` reads it. */
  connectionString: string;
  /** The schema holding Baton's tables (and naming the NOTIFY channel). Default `baton`. */
  schema: string;
  /** Connections in the pool. Default 10. */
  poolSize: number;
}

export const DEFAULT_SCHEMA = 'baton';
export const DEFAULT_POOL_SIZE = 10;

/** Lower-case identifiers only, so the schema never needs quoting rules beyond double quotes. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const invalid = (message: string): ValidationError => new ValidationError(message, undefined, 'INVALID_STORE_URL');

/**
 * Reads `postgres://user[:password]@host[:port]/database[?schema=NAME&pool_size=N&...]`
 * (or `postgresql://`). `schema` and `pool_size` are Baton's; every other query parameter
 * (`sslmode`, `application_name`, ...) goes to the driver unchanged.
 */
export function parsePostgresUrl(url: string): PostgresUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`store URL "${redact(url)}" is not a URL; use postgres://user@host:5432/database`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (parsed.host === '' || database === '') {
    throw invalid(
      `store URL "${redact(url)}" must name a host and a database, as in postgres://user@host:5432/database`,
    );
  }
  const schema = parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw invalid(
      `schema "${schema}" in the store URL must be a lower-case identifier (letters, digits, _; at most 63)`,
    );
  }
  const poolText = parsed.searchParams.get('pool_size');
  const poolSize = poolText === null ? DEFAULT_POOL_SIZE : Number(poolText);
  if (!Number.isSafeInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
    throw invalid(`pool_size "${poolText}" in the store URL must be an integer from 1 to 1000`);
  }
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('pool_size');
  return { connectionString: parsed.toString(), schema, poolSize };
}

/** The URL with its password hidden, for messages. */
export function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}
