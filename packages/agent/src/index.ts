export { Agent } from './agent.js';
export type { AgentOptions, AgentState } from './agent.js';
export { defineTask, silentLogger } from './task.js';
export { defineBatchTask } from './batch-task.js';
export type { BatchItem, BatchOptions, BatchOutcome, BatchTaskOptions } from './batch-task.js';
export type {
  AnyTaskDefinition,
  TaskContext,
  TaskDefinition,
  TaskLogger,
  TaskOptions,
  PayloadSchema,
  PayloadsOf,
  StepWorkflow,
} from './task.js';
export type { StepCredential } from './workflow-handle.js';
export {
  demoTasks,
  demoSleep,
  demoFail,
  demoEcho,
  demoExtract,
  demoOcr,
  demoIndex,
  demoPropose,
  demoEvaluate,
  demoTrain,
  campaignIteration,
  DEMO_CANDIDATES,
} from './demo-tasks.js';
export {
  API_URL_ENV,
  INPUTS_FILE_ENV,
  JOB_ID_ENV,
  LEASE_TOKEN_ENV,
  WORKFLOW_ID_ENV,
  WORKFLOW_STEP_ENV,
} from './command-inputs.js';
export {
  commandTask,
  createCommandTask,
  commandPayloadSchema,
  COMMAND_TASK,
  DEFAULT_KILL_GRACE_MS,
} from './command-task.js';
export type { CommandPayload, CommandResult, CommandTaskOptions } from './command-task.js';
export { detectGpus, declaredGpus } from './gpus.js';
export type { DetectGpusOptions } from './gpus.js';
export { GpuHealthMonitor, DEFAULT_GPU_HEALTH_INTERVAL_MS } from './gpu-health.js';
export type { GpuHealthMonitorOptions } from './gpu-health.js';
export { WsLink } from './ws-link.js';
export type { WsLinkOptions, WsLinkState } from './ws-link.js';
export { PreemptedError, poolOptionsProblem } from './preemption.js';
export type { PoolOptions } from './preemption.js';
