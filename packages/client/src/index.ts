export { BatonClient } from './client.js';
export { BatonApiError } from './errors.js';
export type * from './types.js';
