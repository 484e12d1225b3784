import type { PayloadSchema, TaskContext, TaskDefinition } from './task.js';
import { defineTask } from './task.js';

/** How a batched task groups its jobs. */
export interface BatchOptions {
  /** Most jobs handed to the handler at once (1–10 000). */
  maxSize: number;
  /**
   * Longest a job waits for others to join its batch, from when the first of the batch was
   * ready to run (0 or more, at most 60 000). The batch goes as soon as it is full.
   */
  maxDelayMs: number;
}

/** One job of a batch: its payload and its own context (signal, progress, inputs, output). */
export interface BatchItem<P> {
  payload: P;
  ctx: TaskContext;
}

/**
 * What a batch handler answers for each item, in the items' order: a result, or an `Error`
 * (with optional `code` and `retryable`, as a thrown one) that fails that job only, so a retry
 * runs only the jobs that failed.
 */
export type BatchOutcome<R> = R | Error;

export interface BatchTaskOptions<P> {
  batch: BatchOptions;
  queue?: string;
  schema?: PayloadSchema<P>;
  abortGraceMs?: number;
  stopGraceMs?: number;
}

/**
 * Defines a task whose handler takes its jobs in batches (GPU inference, bulk inserts):
 * `defineBatchTask('embed', async (items) => items.map((i) => embed(i.payload)), {batch: {maxSize: 32, maxDelayMs: 20}})`.
 *
 * Each job is still a job of its own: it is assigned, started, heartbeated and reported alone,
 * and holds its own slot, so a batch is at most as large as the agent's free slots. The jobs
 * of the task that are ready to run on this agent wait for each other up to `maxDelayMs`
 * (or until `maxSize` are ready) and are handed to one handler call. A handler that throws
 * fails every job of the batch; one that answers an array fails the jobs whose entry is an
 * `Error` and succeeds the others with their entry as result. An answer that is not an array
 * of the batch's length fails them all (`BATCH_RESULT_INVALID`, not retried).
 */
export function defineBatchTask<P = unknown, R = unknown>(
  name: string,
  handler: (items: BatchItem<P>[]) => Promise<BatchOutcome<R>[]>,
  options: BatchTaskOptions<P>,
): TaskDefinition<P, R> {
  checkBatchOptions(name, options.batch);
  const collector = new BatchCollector<P, R>(handler, options.batch);
  const { batch: _batch, ...rest } = options;
  return {
    ...defineTask<P, R>(name, (payload, ctx) => collector.add(payload, ctx), rest),
    batch: { ...options.batch },
  };
}

function checkBatchOptions(name: string, batch: BatchOptions): void {
  const { maxSize, maxDelayMs } = batch;
  if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > 10_000) {
    throw new RangeError(`task ${name}: batch.maxSize must be an integer from 1 to 10000, got ${maxSize}`);
  }
  if (!Number.isInteger(maxDelayMs) || maxDelayMs < 0 || maxDelayMs > 60_000) {
    throw new RangeError(`task ${name}: batch.maxDelayMs must be an integer from 0 to 60000, got ${maxDelayMs}`);
  }
}

interface Waiting<P, R> {
  item: BatchItem<P>;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/** Gathers a task's ready jobs into batches and hands each job its own outcome. */
class BatchCollector<P, R> {
  private open: Waiting<P, R>[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly handler: (items: BatchItem<P>[]) => Promise<BatchOutcome<R>[]>,
    private readonly options: BatchOptions,
  ) {}

  add(payload: P, ctx: TaskContext): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.open.push({ item: { payload, ctx }, resolve, reject });
      if (this.open.length >= this.options.maxSize) this.flush();
      // The wait starts with the batch's first job; a job never waits longer than maxDelayMs.
      else if (this.open.length === 1) this.timer = setTimeout(() => this.flush(), this.options.maxDelayMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.open;
    this.open = [];
    if (batch.length > 0) void this.run(batch);
  }

  private async run(batch: Waiting<P, R>[]): Promise<void> {
    let answers: BatchOutcome<R>[];
    try {
      answers = await this.handler(batch.map((w) => w.item));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    if (!Array.isArray(answers) || answers.length !== batch.length) {
      const got = Array.isArray(answers) ? `${answers.length} answers` : `a ${typeof answers}`;
      const err = Object.assign(new Error(`batch handler answered ${got} for ${batch.length} jobs`), {
        code: 'BATCH_RESULT_INVALID',
        retryable: false,
      });
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const answer = answers[i];
      if (answer instanceof Error) w.reject(answer);
      else w.resolve(answer as R);
    });
  }
}
