// @baton/store/sqlite: the SQLite adapter class, for tests and tools. Importing it loads
// better-sqlite3; openStore loads it only for sqlite: URLs.
export { SqliteStore, WAL_TRUNCATE_AFTER_DELETES } from './sqlite-store.js';
