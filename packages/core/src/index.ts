export * from './job.js';
export * from './errors.js';
export * from './ids.js';
export * from './backoff.js';
export * from './limits.js';
export * from './schemas.js';
export * from './placement.js';
export * from './protocol.js';
