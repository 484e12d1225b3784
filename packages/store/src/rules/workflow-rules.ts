import type { NewWorkflow, Workflow, WorkflowStep } from '@baton/core';
import { NotImplementedYet } from './not-implemented.js';
import type { WorkflowListQuery, WorkflowPage, Workflows } from '../workflows.js';

export { NotImplementedYet };
/** Placeholder until a backend implements workflows. */
export function unimplementedWorkflows(backend: string): Workflows {
  const no = (): never => {
    throw new NotImplementedYet(`workflows are not implemented on ${backend} yet`);
  };
  return {
    createWorkflow: async (_w: NewWorkflow): Promise<{ workflow: Workflow; created: boolean }> => no(),
    getWorkflow: async (_id: string): Promise<Workflow | null> => no(),
    listWorkflows: async (_q: WorkflowListQuery): Promise<WorkflowPage> => no(),
    workflowSteps: async (_id: string): Promise<WorkflowStep[]> => no(),
    cancelWorkflow: async (_id: string): Promise<Workflow> => no(),
    retryWorkflow: async (_id: string): Promise<Workflow> => no(),
  };
}
