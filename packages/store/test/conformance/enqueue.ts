import { describe, expect, it } from 'vitest';
import type { Fixture } from './fixture.js';
import { UNKNOWN_ID, rejection } from './fixture.js';

/** 1–3: enqueue, idempotency, reading and listing. */
export function enqueueTests(f: () => Fixture): void {
  describe('enqueue and read', () => {
    it('keeps input order, queues due jobs, delays future ones and round-trips every field', async () => {
      const x = f();
      const full = x.job({
        payload: { a: [1, 2, { b: 'c' }], s: 'ünïcødé', n: null },
        priority: 'high',
        priorityLevel: 7,
        resources: { slots: 3, cpu: 2, memoryMb: 512, gpus: 1 },
        constraints: { tags: ['region:eu', 'disk:ssd'] },
        maxAttempts: 5,
        backoffMs: 250,
        timeoutMs: 9000,
        owner: `${x.owner}-bob`,
        task: 'resize.image',
      });
      const later = x.job({ runAt: x.now + 60_000, priority: 'low', priorityLevel: -2 });
      const pastDue = x.job({ runAt: x.now - 5000 });
      const exactlyNow = x.job({ runAt: x.now });
      const results = await x.store.enqueue([later, full, pastDue, exactlyNow]);
      expect(results.map((r) => r.job.id)).toEqual([later.id, full.id, pastDue.id, exactlyNow.id]);
      expect(results.map((r) => r.created)).toEqual([true, true, true, true]);
      expect(results.map((r) => r.job.state)).toEqual(['delayed', 'queued', 'queued', 'queued']);

      const expected = {
        ...full,
        state: 'queued',
        attempts: 0,
        progress: null,
        result: null,
        error: null,
        agentId: null,
        gpus: [],
        leaseExpiresAt: null,
        startedAt: null,
        finishedAt: null,
      };
      expect(results[1]!.job).toMatchObject(expected);
      expect(await x.store.getJob(full.id)).toMatchObject(expected);
      expect(await x.store.getJob(full.id)).toMatchObject({ idempotencyKey: null });
      expect(await x.store.getJob(later.id)).toMatchObject({
        state: 'delayed',
        runAt: x.now + 60_000,
        priority: 'low',
        priorityLevel: -2,
      });
      expect(await x.store.getJob(UNKNOWN_ID)).toBeNull();
      expect(await x.store.getAttempts(full.id)).toEqual([]);
    });

    it('round-trips payloads that are not objects', async () => {
      const x = f();
      const payloads: unknown[] = ['text', 42, [1, 'two'], null, true];
      const jobs = payloads.map((payload) => x.job({ payload }));
      await x.store.enqueue(jobs);
      for (const [i, job] of jobs.entries()) expect((await x.store.getJob(job.id))!.payload).toEqual(payloads[i]);
    });
  });

  describe('idempotency', () => {
    it('returns the existing job for a repeated (owner, key), also within one batch', async () => {
      const x = f();
      const key = `key-${x.queue}`;
      const [first] = await x.store.enqueue([x.job({ idempotencyKey: key })]);
      expect(first).toMatchObject({ created: true, job: { idempotencyKey: key } });
      const batch = await x.store.enqueue([
        x.job({ idempotencyKey: key, payload: { other: true } }),
        x.job({ idempotencyKey: `${key}-b` }),
        x.job({ idempotencyKey: `${key}-b`, payload: { second: true } }),
      ]);
      expect(batch[0]).toMatchObject({ created: false, job: { id: first!.job.id, payload: { n: 1 } } });
      expect(batch[1]!.created).toBe(true);
      expect(batch[2]).toMatchObject({ created: false, job: { id: batch[1]!.job.id, payload: { n: 1 } } });
      const listed = await x.store.listJobs({ queue: x.queue, limit: 10 });
      expect(listed.jobs).toHaveLength(2);
    });

    it('returns the existing job whatever state it reached', async () => {
      const x = f();
      const key = `key-${x.queue}`;
      const [first] = await x.store.enqueue([x.job({ idempotencyKey: key })]);
      const a = await x.assign(first!.job.id);
      await x.store.complete([x.succeed(a, 'done')]);
      const [again] = await x.store.enqueue([x.job({ idempotencyKey: key })]);
      expect(again).toMatchObject({ created: false, job: { id: first!.job.id, state: 'succeeded', result: 'done' } });
    });

    it('creates a new job for the same key under another owner', async () => {
      const x = f();
      const key = `key-${x.queue}`;
      const [mine] = await x.store.enqueue([x.job({ idempotencyKey: key })]);
      const [theirs] = await x.store.enqueue([x.job({ idempotencyKey: key, owner: `${x.owner}-carol` })]);
      expect(theirs!.created).toBe(true);
      expect(theirs!.job.id).not.toBe(mine!.job.id);
      expect(theirs!.job.owner).toBe(`${x.owner}-carol`);
      expect(await x.store.getJob(mine!.job.id)).toMatchObject({ owner: x.owner });
    });
  });

  describe('listJobs', () => {
    it('lists newest first and pages with a cursor that visits each job exactly once', async () => {
      const x = f();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        ids.push(...(await x.enqueue()));
        x.advance(1);
      }
      for (const limit of [1, 3, 7, 10]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await x.store.listJobs({ queue: x.queue, limit, ...(cursor && { cursor }) });
          expect(page.jobs.length).toBeLessThanOrEqual(limit);
          seen.push(...page.jobs.map((j) => j.id));
          cursor = page.nextCursor ?? undefined;
          pages++;
          if (pages > 20) throw new Error('pagination does not end');
        } while (cursor);
        expect(seen, `limit ${limit}`).toEqual([...ids].reverse());
        expect(pages, `limit ${limit}`).toBe(Math.max(1, Math.ceil(7 / limit)));
      }
    });

    it('ends with nextCursor null when the last page is exactly full', async () => {
      const x = f();
      await x.enqueue(6);
      const first = await x.store.listJobs({ queue: x.queue, limit: 3 });
      expect(first.jobs).toHaveLength(3);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await x.store.listJobs({ queue: x.queue, limit: 3, cursor: first.nextCursor! });
      expect(second.jobs).toHaveLength(3);
      expect(second.nextCursor).toBeNull();
    });

    it('filters by state, queue and owner', async () => {
      const x = f();
      const ids = await x.enqueue(4);
      const [delayed] = await x.enqueue(1, { runAt: x.now + 1000 });
      const [elsewhere] = await x.enqueue(1, { queue: x.otherQueue('b') });
      const [bobs] = await x.enqueue(1, { owner: `${x.owner}-bob` });
      const a = await x.assign(ids[0]!);
      await x.store.complete([x.succeed(a)]);

      const page = async (q: Parameters<typeof x.store.listJobs>[0]) =>
        (await x.store.listJobs(q)).jobs.map((j) => j.id);
      expect(await page({ queue: x.queue, state: 'succeeded', limit: 10 })).toEqual([ids[0]]);
      expect(await page({ queue: x.queue, state: 'delayed', limit: 10 })).toEqual([delayed]);
      expect(await page({ queue: x.queue, state: 'queued', limit: 10 })).toEqual([bobs, ids[3], ids[2], ids[1]]);
      expect(await page({ queue: x.queue, state: 'failed', limit: 10 })).toEqual([]);
      expect(await page({ queue: x.otherQueue('b'), limit: 10 })).toEqual([elsewhere]);
      expect(await page({ queue: x.otherQueue('none'), limit: 10 })).toEqual([]);
      expect(await page({ queue: x.queue, owner: `${x.owner}-bob`, limit: 10 })).toEqual([bobs]);
      const byState = await x.store.listJobs({ state: 'delayed', limit: 50 });
      expect(byState.jobs.every((j) => j.state === 'delayed')).toBe(true);
      const byOwner = await x.store.listJobs({ owner: x.owner, limit: 50 });
      expect(byOwner.jobs.map((j) => j.id).sort()).toEqual([...ids, delayed, elsewhere].sort());
    });

    it('keeps filters across pages', async () => {
      const x = f();
      const queued = await x.enqueue(5);
      await x.enqueue(5, { runAt: x.now + 1000 });
      const first = await x.store.listJobs({ queue: x.queue, state: 'queued', limit: 3 });
      const second = await x.store.listJobs({ queue: x.queue, state: 'queued', limit: 3, cursor: first.nextCursor! });
      expect([...first.jobs, ...second.jobs].map((j) => j.id)).toEqual([...queued].reverse());
      expect(second.nextCursor).toBeNull();
    });

    it('lists every state across queues, newest first, page by page', async () => {
      const x = f();
      const running = [await x.running(), await x.running(), await x.running()].map((a) => a.job.id);
      const assigned = (await x.leased()).job.id;
      const done = await x.running();
      await x.store.complete([x.succeed(done)]);
      const failed = await x.running();
      await x.store.complete([x.fail(failed, false)]);
      const [cancelled] = await x.enqueue();
      await x.store.cancel(cancelled!);
      const mine = (jobs: { id: string; owner: string }[]) => jobs.filter((j) => j.owner === x.owner).map((j) => j.id);
      const all = async (state: Parameters<typeof x.store.listJobs>[0]['state']) => {
        const out: { id: string; owner: string; state: string }[] = [];
        let cursor: string | undefined;
        do {
          const p = await x.store.listJobs({ state, limit: 2, ...(cursor && { cursor }) });
          out.push(...p.jobs);
          cursor = p.nextCursor ?? undefined;
        } while (cursor);
        expect(out.every((j) => j.state === state)).toBe(true);
        return mine(out);
      };
      expect(await all('running')).toEqual([...running].reverse());
      expect(await all('assigned')).toEqual([assigned]);
      expect(await all('succeeded')).toEqual([done.job.id]);
      expect(await all('failed')).toEqual([failed.job.id]);
      expect(await all('cancelled')).toEqual([cancelled]);
    });

    it('refuses a cursor it did not issue', async () => {
      const x = f();
      await x.enqueue(2);
      for (const cursor of ['garbage!', 'bm90LWEtdWxpZA', '%%%']) {
        const err = await rejection(x.store.listJobs({ queue: x.queue, limit: 5, cursor }));
        expect(err.code, cursor).toBe('INVALID_CURSOR');
      }
    });
  });
}
