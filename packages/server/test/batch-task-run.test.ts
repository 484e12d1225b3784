import { afterEach, describe, expect, it } from 'vitest';
import { defineBatchTask } from '@baton/agent';
import type { Harness } from './harness.js';
import { isFinal, startHarness } from './harness.js';

/** Batched tasks end to end: a real server (SQLite) and an in-process agent. */
describe('batched tasks run', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('take queued jobs in batches, and a retry re-runs only the jobs that failed', async () => {
    const batches: { n: number; attempt: number }[][] = [];
    const embed = defineBatchTask<{ n: number }, number>(
      'test.embed',
      async (items) => {
        batches.push(items.map((i) => ({ n: i.payload.n, attempt: i.ctx.job.attempt })));
        // Job 3 fails its first attempt only.
        return items.map((i) =>
          i.payload.n === 3 && i.ctx.job.attempt === 1 ? new Error('flaky GPU') : i.payload.n * 10,
        );
      },
      { batch: { maxSize: 4, maxDelayMs: 50 } },
    );
    h = await startHarness({ agents: 0 });
    await h.store.registerTasks([{ task: 'test.embed', queue: 'default' }]);
    const jobs = Array.from({ length: 10 }, (_, n) => ({ task: 'test.embed', payload: { n }, backoffMs: 0 }));
    const { status, body } = await h.post('/api/jobs/bulk', { jobs });
    expect(status).toBe(201);
    const ids: string[] = body.jobs.map((j: { id: string }) => j.id);
    await h.addAgent({ tasks: [embed], concurrency: 8 });
    const done = await Promise.all(ids.map((id) => h.waitFor(id, isFinal)));
    expect(done.map((j) => j.state)).toEqual(Array(10).fill('succeeded'));
    expect(done.map((j) => j.result)).toEqual(ids.map((_, n) => n * 10));
    // Never more than maxSize at once; every job ran once, but job 3 twice.
    for (const b of batches) expect(b.length).toBeLessThanOrEqual(4);
    expect(batches.some((b) => b.length > 1)).toBe(true);
    const runs = batches.flat();
    expect(runs.filter((r) => r.n === 3).map((r) => r.attempt)).toEqual([1, 2]);
    expect(runs.filter((r) => r.n !== 3).every((r) => r.attempt === 1)).toBe(true);
    expect(runs).toHaveLength(11);
    expect(done[3].attempts).toBe(2);
  });
});
