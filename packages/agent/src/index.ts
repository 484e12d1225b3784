export { Agent } from './agent.js';
export type { AgentOptions, AgentState } from './agent.js';
export { defineTask, silentLogger } from './task.js';
export type {
  AnyTaskDefinition,
  TaskContext,
  TaskDefinition,
  TaskLogger,
  TaskOptions,
  PayloadSchema,
  PayloadsOf,
} from './task.js';
export { demoTasks, demoSleep, demoFail, demoEcho } from './demo-tasks.js';
