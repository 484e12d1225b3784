import type { JobListQuery } from '@baton/store';
import { TASK_SCAN_WINDOW } from '@baton/store';
import { jobIdFloor } from '@baton/core';
import { describe, expect, it } from 'vitest';
import type { Fixture } from './fixture.js';
import { rejection } from './fixture.js';

/** listJobs by task and by creation time, and the short pages of a sparse task listing. */
export function listingFilterTests(f: () => Fixture): void {
  /** Every id a listing yields, page by page, and how many pages it took. */
  async function all(x: Fixture, query: Omit<JobListQuery, 'cursor'>): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await x.store.listJobs({ ...query, ...(cursor !== undefined && { cursor }) });
      expect(page.jobs.length).toBeLessThanOrEqual(query.limit);
      ids.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
      if (++pages > 100) throw new Error('pagination does not end');
    } while (cursor !== undefined);
    return { ids, pages };
  }

  describe('listJobs filters', () => {
    it('filters by task, alone and with the other filters, across pages', async () => {
      const x = f();
      const a: string[] = [];
      const b: string[] = [];
      for (let i = 0; i < 5; i++) {
        a.push(...(await x.enqueue(1, { task: 'task.a' })));
        b.push(...(await x.enqueue(1, { task: 'task.b' })));
        x.advance(1);
      }
      expect((await all(x, { task: 'task.a', limit: 2 })).ids).toEqual([...a].reverse());
      expect((await all(x, { task: 'task.b', queue: x.queue, limit: 3 })).ids).toEqual([...b].reverse());
      expect((await all(x, { task: 'task.b', owner: x.owner, state: 'queued', limit: 10 })).ids).toEqual(
        [...b].reverse(),
      );
      expect((await all(x, { task: 'task.a', state: 'succeeded', limit: 10 })).ids).toEqual([]);
      expect((await all(x, { task: 'task.none', limit: 10 })).ids).toEqual([]);
    });

    it('bounds createdAt: since inclusive, before exclusive, with the other filters and a cursor', async () => {
      const x = f();
      // Ids minted here with the time they are created at: newJobId is monotonic across the
      // process, and earlier tests have run its clock past this one's.
      const t = (offset: number) => 1_800_000_000_000 + offset;
      const at: Record<number, string> = {};
      x.now = t(30);
      for (const offset of [0, 10, 20, 30]) {
        const id = `${jobIdFloor(t(offset)).slice(0, 10)}${'7'.repeat(16)}`;
        at[offset] = (await x.enqueue(1, { id, createdAt: t(offset), runAt: t(offset) }))[0]!;
      }
      expect((await all(x, { createdSince: t(10), createdBefore: t(30), limit: 1 })).ids).toEqual([at[20], at[10]]);
      expect((await all(x, { createdSince: t(10), limit: 10 })).ids).toEqual([at[30], at[20], at[10]]);
      expect((await all(x, { createdBefore: t(10), limit: 10 })).ids).toEqual([at[0]]);
      expect((await all(x, { createdSince: t(11), createdBefore: t(20), limit: 10 })).ids).toEqual([]);
      expect((await all(x, { createdSince: t(0), queue: x.queue, state: 'queued', limit: 2 })).ids).toEqual([
        at[30],
        at[20],
        at[10],
        at[0],
      ]);
      expect((await all(x, { createdBefore: t(25), owner: x.owner, task: 'test.task', limit: 1 })).ids).toEqual([
        at[20],
        at[10],
        at[0],
      ]);
      // A cursor past the upper bound does not widen it; one inside it narrows it.
      const first = await x.store.listJobs({ limit: 1 });
      expect(
        (await x.store.listJobs({ createdBefore: t(20), cursor: first.nextCursor!, limit: 10 })).jobs,
      ).toHaveLength(2);
      const err = await rejection(x.store.listJobs({ createdSince: Number.NaN, limit: 10 }));
      expect(err.code).toBe('VALIDATION_FAILED');
    });

    it('answers a sparse task in bounded scans: short pages while nextCursor is non-null', async () => {
      const x = f();
      const [rare] = await x.enqueue(1, { task: 'task.rare' });
      x.advance(1);
      await x.enqueue(TASK_SCAN_WINDOW + 10, { task: 'task.common' });
      const first = await x.store.listJobs({ task: 'task.rare', limit: 10 });
      // The newest window held none: an empty page that still says where to go on.
      expect(first.jobs).toEqual([]);
      expect(first.nextCursor).toEqual(expect.any(String));
      const { ids, pages } = await all(x, { task: 'task.rare', limit: 10 });
      expect(ids).toEqual([rare]);
      expect(pages).toBe(2);
    });
  });
}
