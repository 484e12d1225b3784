import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';

const dir = mkdtempSync(join(tmpdir(), 'baton-store-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function newJob(now: number): NewJob {
  return {
    id: newJobId(now),
    queue: 'q',
    task: 't',
    owner: 'o',
    // Bulk, so the deletion writes many pages to the WAL.
    payload: { blob: 'x'.repeat(400) },
    priority: 'low',
    priorityLevel: 2,
    resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 },
    constraints: { tags: [] },
    maxAttempts: 1,
    backoffMs: 0,
    timeoutMs: 1000,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
  };
}

describe('sqlite retention', () => {
  it('truncates the write-ahead log after deleting many jobs, so the file shrinks on disk', async () => {
    const path = join(dir, 'wal.db');
    const store = await openStore(`sqlite:${path}`);
    try {
      const now = Date.now();
      const total = 12_000;
      for (let i = 0; i < total; i += 1000) {
        const jobs = Array.from({ length: 1000 }, () => newJob(now));
        await store.enqueue(jobs);
        for (const job of jobs) await store.cancel(job.id);
      }
      const cut = Date.now() + 1;
      const wal = () => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);
      // Batches as the retention sweeper deletes them; the WAL only grows until the 10 000th.
      for (let i = 0; i < 9; i++) expect(await store.deleteFinished(cut, 1000, 'cancelled')).toEqual({ deleted: 1000 });
      const before = wal();
      expect(before).toBeGreaterThan(1024 * 1024);
      expect(await store.deleteFinished(cut, 1000, 'cancelled')).toEqual({ deleted: 1000 });
      expect(wal()).toBeLessThan(before / 10);
      expect(await store.deleteFinished(cut, 5000)).toEqual({ deleted: 2000 });
      expect((await store.queueStats()).find((s) => s.queue === 'q')).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
