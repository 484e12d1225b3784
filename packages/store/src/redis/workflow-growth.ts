import type { JobError, JobState, LeaseRef, NewStep, Workflow, WorkflowStep } from '@baton/core';
import { ConflictError, NotFoundError, checkWorkflowGraph } from '@baton/core';
import { checkAddedSteps, refusalError } from '../rules/workflow-rules.js';
import type { RedisContext } from './context.js';
import { hashOf } from './job-hash.js';
import { callScript } from './scripts.js';
import { emitWorkflowEvents } from './workflow-events.js';
import { stepsArgument, workflowOfHash } from './workflow-hash.js';

/**
 * addSteps in Redis: a running step grows its workflow (a campaign's next iteration), in one
 * call of add-steps.lua. What needs no stored state is decided here first and handed to the
 * script as two flags, so the script refuses in the contract's order (a finished workflow
 * before a bad graph); when it refuses, the errors are made here by the rules every backend
 * shares (checkAddedSteps, refusalError, checkWorkflowGraph), fed what the script read.
 */
export async function addSteps(
  ctx: RedisContext,
  id: string,
  by: LeaseRef,
  steps: NewStep[],
): Promise<{ workflow: Workflow; steps: WorkflowStep[] }> {
  const k = ctx.keys;
  const links = steps.map((s) => ({ id: s.step, needs: s.needs }));
  const refsOk = steps.every((s) => s.job.workflow?.id === id && s.job.workflow.step === s.step);
  const keys = [...k.jobIndexes, k.byQueue, k.byOwner, k.all, k.queues];
  const args = [
    ctx.clock(),
    id,
    by.jobId,
    by.leaseToken,
    refsOk ? '1' : '0',
    graphSoundAmongNew(links) ? '1' : '0',
    stepsArgument(
      steps,
      steps.map(() => 'blocked'),
    ),
  ];
  const reply = (await callScript(ctx.client, 'add-steps', keys, args)) as unknown[];
  if (Number(reply[0]) !== 0) throw refusal(id, by, steps, links, reply);
  emitWorkflowEvents(ctx, [reply[2]]);
  const added = steps.map((s, i): WorkflowStep => {
    const [state, error, finishedAt] = reply.slice(3 + i * 3, 6 + i * 3).map(String);
    return {
      step: s.step,
      jobId: s.job.id,
      task: s.job.task,
      queue: s.job.queue,
      needs: [...s.needs],
      state: state as JobState,
      attempts: 0,
      error: error ? (JSON.parse(error) as JobError) : null,
      createdAt: s.job.createdAt,
      startedAt: null,
      finishedAt: finishedAt ? Number(finishedAt) : null,
    };
  });
  return { workflow: workflowOfHash(hashOf(reply[1])), steps: added };
}

/**
 * Whether the new steps' graph holds among themselves: no id twice, no need named twice or
 * naming its own step, no cycle. Needs outside the new steps count as existing here; the
 * script checks them (and the new ids) against the stored steps.
 */
function graphSoundAmongNew(links: { id: string; needs: string[] }[]): boolean {
  const ids = new Set(links.map((l) => l.id));
  const outside = new Set(links.flatMap((l) => l.needs.filter((n) => !ids.has(n))));
  try {
    checkWorkflowGraph(links, outside);
    return true;
  } catch {
    return false;
  }
}

/** The error of a refused addSteps (add-steps.lua's status, code and what it read). */
function refusal(
  id: string,
  by: LeaseRef,
  steps: NewStep[],
  links: { id: string; needs: string[] }[],
  reply: unknown[],
): Error {
  const code = String(reply[1]);
  if (code === 'WORKFLOW_NOT_FOUND') return new NotFoundError(`workflow ${id} not found`, code);
  if (code === 'WORKFLOW_FINISHED') {
    const state = String(reply[2]);
    return new ConflictError(`workflow ${id} has already ended (${state})`, code, { state });
  }
  if (code === 'NOT_A_STEP') return new ConflictError(`job ${by.jobId} is not a step of workflow ${id}`, code);
  try {
    // Each rule throws the error the script found: the same text every backend gives.
    if (code === 'LEASE') {
      const refused = refusalError(by, { state: String(reply[2]) as JobState, leaseToken: null });
      if (refused) return refused;
    } else if (code === 'RULES') {
      checkAddedSteps(workflowOfHash(hashOf(reply[2])), steps);
    } else if (code === 'GRAPH') {
      checkWorkflowGraph(links, new Set((reply[2] as unknown[]).map(String)));
    }
  } catch (err) {
    return err as Error;
  }
  return new Error(`Redis script add-steps refused (${code}) for workflow ${id}, but no rule does`);
}
