import { describe, expect, it } from 'vitest';
import type { BatchItem } from '../src/batch-task.js';
import { defineBatchTask } from '../src/batch-task.js';
import { JobAbort } from '../src/job-abort.js';
import { runTask } from '../src/run-task.js';
import { silentLogger, type AnyTaskDefinition } from '../src/task.js';
import { assignment } from './assignment.js';

const hooks = { logger: silentLogger, progress() {}, output() {} };
let next = 0;
const run = (task: ReturnType<typeof defineBatchTask<number, unknown>>, payloads: number[]) =>
  Promise.all(
    payloads.map((p) =>
      runTask(task as AnyTaskDefinition, assignment(task.name, p, { id: `job-${++next}` }), new JobAbort(), hooks),
    ),
  );

describe('batched tasks', () => {
  it('hands ready jobs to the handler up to maxSize at once, each with its own context', async () => {
    const batches: number[][] = [];
    const jobIds = new Set<string>();
    const task = defineBatchTask<number, number>(
      'test.double',
      async (items: BatchItem<number>[]) => {
        batches.push(items.map((i) => i.payload));
        for (const i of items) jobIds.add(i.ctx.job.id);
        return items.map((i) => i.payload * 2);
      },
      { batch: { maxSize: 4, maxDelayMs: 1000 } },
    );
    expect(task.batch).toEqual({ maxSize: 4, maxDelayMs: 1000 });
    const outcomes = await run(task, [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(batches).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect(jobIds.size).toBe(8);
    expect(outcomes.map((o) => (o.outcome === 'succeeded' ? o.result : o.error.code))).toEqual([
      2, 4, 6, 8, 10, 12, 14, 16,
    ]);
  });

  it('sends a batch that is not full once its first job waited maxDelayMs', async () => {
    const batches: number[][] = [];
    const task = defineBatchTask<number, number>(
      'test.slow-fill',
      async (items) => {
        batches.push(items.map((i) => i.payload));
        return items.map((i) => i.payload);
      },
      { batch: { maxSize: 100, maxDelayMs: 30 } },
    );
    const first = run(task, [1, 2]);
    // A job that comes later than the delay goes in the next batch.
    await first;
    await run(task, [3]);
    expect(batches).toEqual([[1, 2], [3]]);
  });

  it('fails only the jobs whose answer is an Error, with its code and retryability', async () => {
    const task = defineBatchTask<number, unknown>(
      'test.partial',
      async (items) =>
        items.map((i) =>
          i.payload % 2 === 0
            ? i.payload
            : Object.assign(new Error(`odd ${i.payload}`), { code: 'ODD', retryable: i.payload !== 3 }),
        ),
      { batch: { maxSize: 4, maxDelayMs: 5 } },
    );
    const outcomes = await run(task, [1, 2, 3, 4]);
    expect(outcomes).toEqual([
      { outcome: 'failed', error: { code: 'ODD', message: 'odd 1', retryable: true } },
      { outcome: 'succeeded', result: 2 },
      { outcome: 'failed', error: { code: 'ODD', message: 'odd 3', retryable: false } },
      { outcome: 'succeeded', result: 4 },
    ]);
  });

  it('fails the whole batch when the handler throws or answers the wrong number of results', async () => {
    const throwing = defineBatchTask<number, unknown>(
      'test.throws',
      async () => {
        throw Object.assign(new Error('model not loaded'), { code: 'NO_MODEL' });
      },
      { batch: { maxSize: 2, maxDelayMs: 5 } },
    );
    expect((await run(throwing, [1, 2])).map((o) => o.outcome === 'failed' && o.error.code)).toEqual([
      'NO_MODEL',
      'NO_MODEL',
    ]);
    const short = defineBatchTask<number, unknown>('test.short', async (items) => items.slice(1), {
      batch: { maxSize: 2, maxDelayMs: 5 },
    });
    expect(await run(short, [1, 2])).toEqual([
      {
        outcome: 'failed',
        error: {
          code: 'BATCH_RESULT_INVALID',
          message: expect.stringMatching(/1 answers for 2 jobs/),
          retryable: false,
        },
      },
      {
        outcome: 'failed',
        error: {
          code: 'BATCH_RESULT_INVALID',
          message: expect.stringMatching(/1 answers for 2 jobs/),
          retryable: false,
        },
      },
    ]);
  });

  it('refuses batch options out of range when the task is defined', () => {
    const define = (maxSize: number, maxDelayMs: number) =>
      defineBatchTask('test.bad', async () => [], { batch: { maxSize, maxDelayMs } });
    expect(() => define(0, 10)).toThrow(/batch.maxSize must be an integer from 1 to 10000, got 0/);
    expect(() => define(1.5, 10)).toThrow(/maxSize/);
    expect(() => define(4, -1)).toThrow(/batch.maxDelayMs must be an integer from 0 to 60000, got -1/);
    expect(() => define(4, 60_001)).toThrow(/maxDelayMs/);
  });
});
