import type { AddedSteps, StepSpec } from '@baton/core';
import { DEFAULT_QUEUE } from '@baton/core';
import type { StepCredential } from './workflow-handle.js';

/** The logging surface a task sees; pino loggers satisfy it. */
export interface TaskLogger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

/** What a running task can see and do besides its payload. */
export interface TaskContext {
  readonly job: { id: string; task: string; queue: string; attempt: number; maxAttempts: number; owner: string };
  /** Aborted when the job is cancelled, times out, or its lease is lost: stop soon after. */
  readonly signal: AbortSignal;
  /** Reports progress, 0–100. Cheap to call often: reports are coalesced. */
  progress(percent: number): void;
  readonly log: TaskLogger;
  /** GPU device indices reserved for this attempt (what `CUDA_VISIBLE_DEVICES` should hold). */
  readonly gpus: readonly number[];
  /**
   * Appends to the job's output (`GET /api/jobs/:id/logs`). Cheap to call often: chunks are
   * batched to the server, and only a tail is kept.
   */
  output(stream: 'stdout' | 'stderr', data: string): void;
  /**
   * A workflow step's inputs: the results of the steps it `needs`, by step id (`ctx.inputs.ocr`).
   * Always an object, so a handler can read it without checks: empty for a plain job and for a
   * step that needs nothing.
   */
  readonly inputs: Readonly<Record<string, unknown>>;
  /**
   * The workflow and step this job is, and how it grows the workflow (`add`), or undefined for
   * a plain job.
   */
  readonly workflow: StepWorkflow | undefined;
}

/** A step's view of its workflow (workflow-handle.ts implements it). */
export interface StepWorkflow {
  readonly id: string;
  readonly step: string;
  /**
   * Adds steps to this workflow while this step runs (a campaign's next iteration): each in the
   * JSON shape of a step of `POST /api/workflows`, `needs` naming existing steps or each other.
   * Resolves to the workflow and the new steps (`step`, `jobId`, `state`); rejects with a
   * `BatonError` whose `code` says why, and then nothing was added.
   */
  add(steps: readonly StepSpec[]): Promise<AddedSteps>;
  /**
   * The job id, lease token and server URL with which a process this step runs (a command)
   * grows the workflow over HTTP. Good only while this attempt runs; hand it to nothing else.
   */
  credential(): StepCredential;
}

/** Anything with a zod-like `parse`, used to check a payload before the handler sees it. */
export interface PayloadSchema<P> {
  parse(value: unknown): P;
}

export interface TaskDefinition<P = unknown, R = unknown> {
  readonly name: string;
  readonly queue: string;
  readonly schema: PayloadSchema<P> | undefined;
  readonly handler: (payload: P, ctx: TaskContext) => Promise<R>;
  /** See {@link TaskOptions.abortGraceMs}. */
  readonly abortGraceMs?: number;
  /** See {@link TaskOptions.stopGraceMs}. */
  readonly stopGraceMs?: number;
  /** Present on a task made by `defineBatchTask`: how its jobs are grouped (batch-task.ts). */
  readonly batch?: { readonly maxSize: number; readonly maxDelayMs: number };
}

/**
 * A task of any payload type, for collections of tasks. (`P` is both read by the handler and
 * produced by the schema, so no narrower type accepts every task.)
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTaskDefinition = TaskDefinition<any, unknown>;

export interface TaskOptions<P> {
  /** Queue the task is served on. Default `default`. */
  queue?: string;
  /** Checks (and may transform) the payload; a payload that fails fails the job without retry. */
  schema?: PayloadSchema<P>;
  /**
   * After `ctx.signal` aborts, how long the handler may take to settle (stop its processes,
   * free its GPUs) before the attempt's outcome is reported anyway. The job's slot and GPUs are
   * freed only then. Default 0: the outcome is reported at once.
   */
  abortGraceMs?: number;
  /**
   * After `ctx.signal` aborts, how long what the task runs takes at most to be gone (a command:
   * its kill grace). An agent that cannot confirm a job's lease stops the job this long, plus a
   * heartbeat, before the lease lapses, so it is gone before the job can run elsewhere.
   * Default: `abortGraceMs`.
   */
  stopGraceMs?: number;
}

/**
 * Defines a task an agent can run:
 * `defineTask('resize', async (payload: { url: string }, ctx) => { ctx.progress(50); … })`.
 */
export function defineTask<P = unknown, R = unknown>(
  name: string,
  handler: (payload: P, ctx: TaskContext) => Promise<R>,
  options: TaskOptions<P> = {},
): TaskDefinition<P, R> {
  return {
    name,
    queue: options.queue ?? DEFAULT_QUEUE,
    schema: options.schema,
    handler,
    ...(options.abortGraceMs !== undefined && { abortGraceMs: options.abortGraceMs }),
    ...(options.stopGraceMs !== undefined && { stopGraceMs: options.stopGraceMs }),
  };
}

/** Maps task names to payload types, for a typed client: `PayloadsOf<typeof tasks>`. */
export type PayloadsOf<T extends readonly AnyTaskDefinition[]> = {
  [D in T[number] as D['name']]: D extends TaskDefinition<infer P, unknown> ? P : never;
};

export const silentLogger: TaskLogger = { info() {}, warn() {}, error() {}, debug() {} };
