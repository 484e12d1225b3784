export type * from './contract.js';
export { openStore, DEFAULT_STORE_URL } from './open.js';
export { SqliteStore } from './sqlite/sqlite-store.js';
export { PostgresStore } from './postgres/postgres-store.js';
export { StoreEvents } from './events.js';
export { RedisStore } from './redis/redis-store.js';
export { copyUnfinishedJobs, COPIED_STATES } from './copy.js';
export type { CopyProgress, CopyResult } from './copy.js';
export type * from './coordination.js';
