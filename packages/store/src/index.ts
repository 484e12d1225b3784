// The adapters are not exported here: openStore loads only the one a URL names (see open.ts).
// Tests and tools that need a class import its subpath: @baton/store/sqlite, /postgres, /redis.
export type * from './contract.js';
export { openStore, DEFAULT_STORE_URL } from './open.js';
export { DEFAULT_LOG_PAGE, MAX_LOG_PAGE } from './rules/log-rules.js';
export { StoreEvents } from './events.js';
export { copyJobs, copyUnfinishedJobs, COPIED_STATES, UNFINISHED_COPIED_STATES } from './copy.js';
export type { CopyOptions, CopyProgress, CopyResult } from './copy.js';
export type * from './coordination.js';
export type * from './accounts.js';
export type * from './fair-share.js';
export type * from './runtime-samples.js';
export { MAX_RUNTIME_KEYS_READ } from './runtime-samples.js';
export type * from './workflows.js';
export { NO_QUOTA } from './accounts.js';
export { TASK_SCAN_WINDOW } from './rules/listing-rules.js';
export { FINAL_JOB_STATES } from './rules/retention-rules.js';
