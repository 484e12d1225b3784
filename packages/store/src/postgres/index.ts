// @baton/store/postgres: the PostgreSQL adapter class, for tests and tools. Importing it loads
// pg; openStore loads it only for postgres:// URLs.
export { PostgresStore } from './postgres-store.js';
export type { PostgresUrl } from './url.js';
