import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskContext } from './task.js';

/** The file holding a step's inputs as JSON (`{"<need>": <its result>, …}`). */
export const INPUTS_FILE_ENV = 'BATON_INPUTS_FILE';
export const WORKFLOW_ID_ENV = 'BATON_WORKFLOW_ID';
export const WORKFLOW_STEP_ENV = 'BATON_WORKFLOW_STEP';
/**
 * The step's credential for growing its workflow over HTTP (`POST $BATON_API_URL/api/workflows/
 * $BATON_WORKFLOW_ID/steps` with `{jobId, leaseToken, steps}`): good only for this workflow and
 * only while this attempt holds its lease. `BATON_API_URL` is left out when the agent knows no URL.
 */
export const JOB_ID_ENV = 'BATON_JOB_ID';
export const LEASE_TOKEN_ENV = 'BATON_LEASE_TOKEN';
export const API_URL_ENV = 'BATON_API_URL';

/** What a command that is a workflow step gets on top of its environment, and how to tidy up. */
export interface StepInputs {
  env: Record<string, string>;
  /** Removes the inputs file; never throws. */
  remove(): Promise<void>;
}

/**
 * For a command that is a workflow step: writes its inputs to a fresh private file and names it
 * in `BATON_INPUTS_FILE`, with `BATON_WORKFLOW_ID` and `BATON_WORKFLOW_STEP`, and gives it the
 * step's credential to grow the workflow (`BATON_JOB_ID`, `BATON_LEASE_TOKEN`, `BATON_API_URL`). A file, not a
 * variable: inputs hold up to a MiB per need, far past what one environment variable may
 * (128 KiB on Linux), and not stdin, which every command would then have to drain. A plain
 * job gets none of this (null): it costs nothing, and its environment is as it always was.
 * `BATON_*` names are refused in a job's own `env`, so a payload cannot forge them.
 */
export async function writeStepInputs(ctx: Pick<TaskContext, 'workflow' | 'inputs'>): Promise<StepInputs | null> {
  if (!ctx.workflow) return null;
  const dir = await mkdtemp(join(tmpdir(), 'baton-inputs-'));
  const file = join(dir, 'inputs.json');
  const remove = () => rm(dir, { recursive: true, force: true }).catch(() => {});
  try {
    // 0600 in a 0700 directory: other users on the agent's host cannot read a step's inputs.
    await writeFile(file, JSON.stringify(ctx.inputs), { mode: 0o600 });
  } catch (err) {
    await remove();
    throw err;
  }
  const { jobId, leaseToken, apiUrl } = ctx.workflow.credential();
  return {
    env: {
      [INPUTS_FILE_ENV]: file,
      [WORKFLOW_ID_ENV]: ctx.workflow.id,
      [WORKFLOW_STEP_ENV]: ctx.workflow.step,
      [JOB_ID_ENV]: jobId,
      [LEASE_TOKEN_ENV]: leaseToken,
      ...(apiUrl !== undefined && { [API_URL_ENV]: apiUrl }),
    },
    remove,
  };
}

/** Runs a command with `env`, plus its step inputs when it is a workflow step; the file goes after. */
export async function withStepInputs<T>(
  ctx: Pick<TaskContext, 'workflow' | 'inputs'>,
  env: Record<string, string>,
  run: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  const step = await writeStepInputs(ctx);
  try {
    return await run(step ? { ...env, ...step.env } : env);
  } finally {
    await step?.remove();
  }
}
