export { createBatonServer } from './server.js';
export type { BatonServer } from './server.js';
export type { ServerOptions, ResolvedServerOptions } from './options.js';
export { resolveServerOptions } from './options.js';
export { AgentGateway } from './agents/gateway.js';
export { SchedulerLoop } from './agents/scheduler-loop.js';
export { MIN_AGENT_TOKEN_LENGTH } from './options.js';
export { jobJson } from './http/job-json.js';
