export { BatonClient } from './client.js';
export { BatonApiError } from './errors.js';
export type * from './types.js';
export type * from './account-types.js';
export type { RetryInfo, RetryOptions } from './retry.js';
