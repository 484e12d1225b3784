import type { JobAssignment, JobError } from '@baton/core';
import { checkResult } from '@baton/core';
import type { JobAbort } from './job-abort.js';
import { preemptGraceOf } from './preemption.js';
import type { TaskDefinition, TaskLogger } from './task.js';
import type { WorkflowGrowthLink } from './workflow-handle.js';
import { WorkflowHandle } from './workflow-handle.js';

/** The inputs of a job that has none: shared and frozen, so a plain job allocates nothing for them. */
const NO_INPUTS: Readonly<Record<string, unknown>> = Object.freeze({});

type Outcome = { outcome: 'succeeded'; result: unknown } | { outcome: 'failed'; error: JobError };

/**
 * Runs one job's handler to an outcome. The handler sees an AbortSignal; on timeout or
 * abort the outcome is decided at once, without waiting for a handler that ignores it.
 */
export async function runTask(
  task: TaskDefinition<unknown, unknown> | undefined,
  assignment: JobAssignment,
  abort: JobAbort,
  hooks: {
    logger: TaskLogger;
    progress(percent: number): void;
    output(stream: 'stdout' | 'stderr', data: string): void;
    /**
     * Resolves when the handler may start (its slots are free); rejects with the reason when
     * the job is aborted first. What it gives is called once the handler has returned, which
     * for a handler that ignores its signal is after the outcome, however long after.
     */
    room?(): Promise<() => void>;
    /** How a step grows its workflow (`ctx.workflow.add`); without it, `add` is refused. */
    growth?: WorkflowGrowthLink;
  },
): Promise<Outcome> {
  const { job } = assignment;
  if (!task) {
    if (job.task === 'command') {
      return fail(
        'COMMANDS_NOT_ALLOWED',
        `agent ${job.agentId} does not run command tasks (start it with --allow-commands)`,
        true,
      );
    }
    return fail('UNKNOWN_TASK', `this agent has no handler for task "${job.task}"`, false);
  }
  let payload: unknown = job.payload;
  if (task.schema) {
    try {
      payload = task.schema.parse(job.payload);
    } catch (err) {
      return fail('INVALID_PAYLOAD', `payload rejected by task "${job.task}": ${messageOf(err)}`, false);
    }
  }
  const timeout =
    job.timeoutMs === null
      ? null
      : setTimeout(
          () => abort.abort(Object.assign(new Error(`job timed out after ${job.timeoutMs} ms`), { code: 'TIMEOUT' })),
          job.timeoutMs,
        );
  // A handler that settles after an abort (the command task stops its process group first)
  // gets its grace, so the job's GPUs are not handed on while its processes still run.
  const grace = (reason: unknown) => abortGrace(task, preemptGraceOf(reason));
  const aborted = abort.whenAborted().catch(async (reason: unknown) => {
    const ms = grace(reason);
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms).unref());
    throw reason;
  });
  aborted.catch(() => {}); // only observed through the race below
  try {
    // The job's time limit runs from its assignment: waiting for room counts too.
    const release = hooks.room ? await hooks.room() : undefined;
    let log: TaskLogger | undefined;
    const ctx = {
      job: {
        id: job.id,
        task: job.task,
        queue: job.queue,
        attempt: job.attempts,
        maxAttempts: job.maxAttempts,
        owner: job.owner,
      },
      get signal(): AbortSignal {
        return abort.signal;
      },
      progress: hooks.progress,
      gpus: job.gpus,
      output: hooks.output,
      inputs: job.inputs ?? NO_INPUTS,
      workflow: job.workflow ? new WorkflowHandle(assignment, hooks.growth) : undefined,
      // A child logger costs more than a no-op job: made only for tasks that log.
      get log(): TaskLogger {
        return (log ??= childLogger(hooks.logger, job.id));
      },
    };
    let handling: Promise<unknown>;
    try {
      handling = Promise.resolve(task.handler(payload, ctx));
    } catch (err) {
      handling = Promise.reject(err);
    }
    if (release) handling.then(release, release);
    const result = await Promise.race([handling, aborted]);
    // Checked here, before sending: the server would refuse it, and every retry would fail alike.
    const refused = checkResult(result);
    if (refused) return { outcome: 'failed', error: refused };
    return { outcome: 'succeeded', result: result === undefined ? null : result };
  } catch (err) {
    const code = codeOf(err) ?? 'TASK_FAILED';
    const retryable = (err as { retryable?: unknown } | null)?.retryable !== false;
    return fail(code, messageOf(err), retryable);
  } finally {
    if (timeout) clearTimeout(timeout);
  }
}

/**
 * How long an aborted handler may take to settle before the outcome is decided without it: the
 * task's `abortGraceMs`; for a preemption, the agent's grace instead of the task's stop time
 * (`stopGraceMs`), plus what the task needs beyond stopping (a command: reaping, 2 s).
 */
export function abortGrace(task: TaskDefinition<unknown, unknown>, preemptGraceMs: number | undefined): number {
  const settle = task.abortGraceMs ?? 0;
  if (preemptGraceMs === undefined) return settle;
  return preemptGraceMs + Math.max(0, settle - (task.stopGraceMs ?? settle));
}

function fail(code: string, message: string, retryable: boolean): Outcome {
  return { outcome: 'failed', error: { code, message, retryable } };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : undefined;
}

function childLogger(logger: TaskLogger, jobId: string): TaskLogger {
  const child = (logger as { child?: (b: object) => TaskLogger }).child;
  return child ? child.call(logger, { jobId }) : logger;
}
