import type { Command } from 'commander';
import { registerAgentsCommand } from './commands/agents.js';
import { registerCancelCommand } from './commands/cancel.js';
import { registerCapacityCommand } from './commands/capacity.js';
import { registerDashboardCommand } from './commands/dashboard.js';
import { registerJobCommand } from './commands/job.js';
import { registerJobsCommand } from './commands/jobs.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerQuotaCommand } from './commands/quota.js';
import { registerRetryCommand } from './commands/retry.js';
import { registerScalingCommand } from './commands/scaling.js';
import { registerSubmitCommand } from './commands/submit.js';
import { registerTokensCommand } from './commands/tokens.js';
import { registerUsersCommand } from './commands/users.js';
import { registerWhoamiCommand } from './commands/whoami.js';
import { registerWorkflowCommand } from './commands/workflow.js';
import { registerWorkflowsCommand } from './commands/workflows.js';

/** The commands that talk to a running server through the SDK. */
export function registerClientCommands(program: Command): void {
  registerSubmitCommand(program);
  registerJobsCommand(program);
  registerJobCommand(program);
  registerCancelCommand(program);
  registerRetryCommand(program);
  registerLogsCommand(program);
  registerWorkflowCommand(program);
  registerWorkflowsCommand(program);
  registerAgentsCommand(program);
  registerCapacityCommand(program);
  registerScalingCommand(program);
  registerWhoamiCommand(program);
  registerUsersCommand(program);
  registerTokensCommand(program);
  registerQuotaCommand(program);
  registerDashboardCommand(program);
}
