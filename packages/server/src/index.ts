export { createBatonServer } from './server.js';
export type { BatonServer } from './server.js';
export type { ServerOptions, ResolvedServerOptions } from './options.js';
export { resolveServerOptions } from './options.js';
export { AgentGateway } from './gateway.js';
export { SchedulerLoop } from './scheduler-loop.js';
export { jobJson } from './http/job-json.js';
