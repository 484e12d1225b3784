export { BatonClient } from './client.js';
export { BatonApiError } from './errors.js';
export type * from './types.js';
export type * from './account-types.js';
export type * from './job-action-types.js';
export type { RetryInfo, RetryOptions } from './retry.js';
export { WorkflowBuilder, defineWorkflow } from './workflow-builder.js';
export type { StepSpec } from './workflow-builder.js';
export type * from './workflow-types.js';
