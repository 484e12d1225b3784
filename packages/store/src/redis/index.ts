// @baton/store/redis: the Redis adapter class, for tests and tools. Importing it loads
// ioredis; openStore loads it only for redis:// URLs.
export { RedisStore } from './redis-store.js';
export type { RedisStoreConfig } from './config.js';
