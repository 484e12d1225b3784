import { describe, expect, it, vi } from 'vitest';
import type { LogChunk } from '@baton/core';
import { DEFAULT_LOG_PAGE, MAX_LOG_PAGE } from '@baton/store';
import type { StoreEvent, StoredLogChunk } from '@baton/store';
import type { Fixture } from './fixture.js';
import { UNKNOWN_ID } from './fixture.js';

const out = (jobId: string, data: string, attempt = 1): LogChunk => ({ jobId, attempt, stream: 'stdout', data });
const err = (jobId: string, data: string, attempt = 1): LogChunk => ({ jobId, attempt, stream: 'stderr', data });

const texts = (chunks: StoredLogChunk[]) => chunks.map((c) => c.data);

function expectIncreasing(chunks: StoredLogChunk[]): void {
  for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.seq).toBeGreaterThan(chunks[i - 1]!.seq);
}

/** 16: job output, kept as a tail per job. */
export function logTests(f: () => Fixture): void {
  describe('logs', () => {
    it('keeps chunks in order, per job, with their attempt, stream and the store’s time', async () => {
      const x = f();
      const [a, b] = await x.enqueue(2);
      const t1 = x.now;
      await x.store.appendLogs([out(a!, 'one\n'), err(b!, 'b-one\n'), err(a!, 'two\n')]);
      x.advance(7);
      await x.store.appendLogs([out(a!, 'three\n', 2)]);
      await x.store.appendLogs([]);

      const logs = await x.store.getLogs(a!);
      expect(logs).toEqual([
        { jobId: a, attempt: 1, stream: 'stdout', data: 'one\n', seq: expect.any(Number), at: t1 },
        { jobId: a, attempt: 1, stream: 'stderr', data: 'two\n', seq: expect.any(Number), at: t1 },
        { jobId: a, attempt: 2, stream: 'stdout', data: 'three\n', seq: expect.any(Number), at: t1 + 7 },
      ]);
      expectIncreasing(logs);
      expect(await x.store.getLogs(b!)).toEqual([
        { jobId: b, attempt: 1, stream: 'stderr', data: 'b-one\n', seq: expect.any(Number), at: t1 },
      ]);
    });

    it('returns only the chunks after afterSeq, for following', async () => {
      const x = f();
      const [id] = await x.enqueue();
      await x.store.appendLogs([out(id!, 'a'), out(id!, 'b')]);
      const first = await x.store.getLogs(id!);
      const cursor = first[first.length - 1]!.seq;
      expect(await x.store.getLogs(id!, cursor)).toEqual([]);
      await x.store.appendLogs([out(id!, 'c')]);
      await x.store.appendLogs([out(id!, 'd'), err(id!, 'e')]);
      const next = await x.store.getLogs(id!, cursor);
      expect(texts(next)).toEqual(['c', 'd', 'e']);
      expect(next[0]!.seq).toBeGreaterThan(cursor);
      expectIncreasing(next);
      expect(texts(await x.store.getLogs(id!, first[0]!.seq))).toEqual(['b', 'c', 'd', 'e']);
      expect(texts(await x.store.getLogs(id!, next[1]!.seq))).toEqual(['e']);
    });

    it('returns at most limit chunks per call, paging on from the last seq', async () => {
      const x = f();
      const [id] = await x.enqueue();
      const written = Array.from({ length: 25 }, (_, i) => `line ${i}\n`);
      await x.store.appendLogs(written.map((d) => out(id!, d)));
      const pages: string[][] = [];
      let after = 0;
      for (;;) {
        const page = await x.store.getLogs(id!, after, 10);
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(10);
        expectIncreasing(page);
        pages.push(texts(page));
        after = page[page.length - 1]!.seq;
      }
      expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
      expect(pages.flat()).toEqual(written);
      // A page may start anywhere, and a limit past the end returns what there is.
      const all = await x.store.getLogs(id!);
      expect(texts(await x.store.getLogs(id!, all[11]!.seq, 3))).toEqual(written.slice(12, 15));
      expect(texts(await x.store.getLogs(id!, all[20]!.seq, MAX_LOG_PAGE + 1))).toEqual(written.slice(21));
    });

    it(`returns ${DEFAULT_LOG_PAGE} chunks at most when no limit is given`, async () => {
      const x = f();
      const [id] = await x.enqueue();
      const written = Array.from({ length: DEFAULT_LOG_PAGE + 7 }, (_, i) => `${i},`);
      await x.store.appendLogs(written.map((d) => out(id!, d)));
      const first = await x.store.getLogs(id!);
      expect(texts(first)).toEqual(written.slice(0, DEFAULT_LOG_PAGE));
      expect(texts(await x.store.getLogs(id!, first[first.length - 1]!.seq))).toEqual(written.slice(DEFAULT_LOG_PAGE));
    });

    it('refuses a limit that is not a positive integer', async () => {
      const x = f();
      const [id] = await x.enqueue();
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        await expect(x.store.getLogs(id!, 0, limit)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      }
    });

    it('has no output for an unknown job or one that wrote none', async () => {
      const x = f();
      const [id] = await x.enqueue();
      expect(await x.store.getLogs(UNKNOWN_ID)).toEqual([]);
      expect(await x.store.getLogs(id!)).toEqual([]);
      expect(await x.store.getLogs(id!, 5)).toEqual([]);
    });

    it('keeps output of a job that has finished', async () => {
      const x = f();
      const a = await x.running();
      await x.store.appendLogs([out(a.job.id, 'working\n')]);
      await x.store.complete([x.succeed(a)]);
      await x.store.appendLogs([out(a.job.id, 'flushed late\n')]);
      expect(texts(await x.store.getLogs(a.job.id))).toEqual(['working\n', 'flushed late\n']);
    });

    it('announces new output once per job of a batch', async () => {
      const x = f();
      const [a, b, quiet] = await x.enqueue(3);
      const events: StoreEvent[] = [];
      const unsubscribe = x.store.subscribe((e) => events.push(e));
      const mine = () => events.filter((e) => e.type === 'logs' && [a, b, quiet].includes(e.jobId));
      try {
        await x.store.appendLogs([out(a!, '1'), out(b!, '2'), err(a!, '3')]);
        await vi.waitFor(() => expect(mine()).toHaveLength(2), { timeout: 5000, interval: 5 });
        expect(mine()).toEqual(
          expect.arrayContaining([
            { type: 'logs', jobId: a },
            { type: 'logs', jobId: b },
          ]),
        );
      } finally {
        unsubscribe();
      }
    });
  });

  describe('log tail', () => {
    const TAIL = 100;
    const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
    const kept = async (store: Awaited<ReturnType<Fixture['openWith']>>, id: string) => texts(await store.getLogs(id));

    it('drops the oldest chunks once a job’s output passes logTailBytes', async () => {
      const x = f();
      const store = await x.openWith({ logTailBytes: TAIL });
      const [id] = (await store.enqueue([x.job()])).map((r) => r.job.id);
      const [c1, c2, c3] = ['1'.repeat(40), '2'.repeat(40), '3'.repeat(40)];
      await store.appendLogs([out(id!, c1)]);
      await store.appendLogs([out(id!, c2)]);
      expect(await kept(store, id!)).toEqual([c1, c2]);
      await store.appendLogs([out(id!, c3)]);
      expect(await kept(store, id!)).toEqual([c2, c3]);
      const exact = '4'.repeat(TAIL);
      await store.appendLogs([out(id!, exact)]);
      expect(await kept(store, id!)).toEqual([exact]);
      await store.appendLogs([err(id!, '5')]);
      expect(await kept(store, id!)).toEqual(['5']);
      // Chunks dropped by trimming are gone for followers too; seq still increases.
      const logs = await store.getLogs(id!);
      expectIncreasing(logs);
    });

    it('keeps the newest chunks of one batch that fit', async () => {
      const x = f();
      const store = await x.openWith({ logTailBytes: TAIL });
      const [id] = (await store.enqueue([x.job()])).map((r) => r.job.id);
      await store.appendLogs([out(id!, 'old')]);
      const batch = ['a'.repeat(60), 'b'.repeat(30), 'c'.repeat(30), 'd'.repeat(30)];
      await store.appendLogs(batch.map((d) => out(id!, d)));
      expect(await kept(store, id!)).toEqual(batch.slice(1));
      const logs = await store.getLogs(id!);
      expectIncreasing(logs);
      expect(logs.reduce((n, c) => n + bytes(c.data), 0)).toBeLessThanOrEqual(TAIL);
    });

    it('keeps the last logTailBytes of a single chunk larger than the tail, counting UTF-8 bytes', async () => {
      const x = f();
      const store = await x.openWith({ logTailBytes: TAIL });
      const [ascii, wide] = (await store.enqueue([x.job(), x.job()])).map((r) => r.job.id);
      await store.appendLogs([out(ascii!, 'earlier')]);
      const big = Array.from({ length: 250 }, (_, i) => String(i % 10)).join('');
      await store.appendLogs([out(ascii!, big)]);
      expect(await kept(store, ascii!)).toEqual([big.slice(-TAIL)]);

      // 'é' is two bytes in UTF-8; the tail starts on a whole character.
      const accents = `start${'é'.repeat(80)}`;
      await store.appendLogs([out(wide!, accents)]);
      const [tail, ...rest] = await kept(store, wide!);
      expect(rest).toEqual([]);
      expect(accents.endsWith(tail!)).toBe(true);
      expect(bytes(tail!)).toBeLessThanOrEqual(TAIL);
      expect(bytes(tail!)).toBeGreaterThanOrEqual(TAIL - 3);
      expect(tail).toMatch(/^é+$/);
    });

    it('pages through what is kept after the oldest chunks were dropped', async () => {
      const x = f();
      const store = await x.openWith({ logTailBytes: TAIL });
      const [id] = (await store.enqueue([x.job()])).map((r) => r.job.id);
      const written = Array.from({ length: 30 }, (_, i) => String(i % 10).repeat(10));
      for (const d of written) await store.appendLogs([out(id!, d)]);
      const keptNow = written.slice(-TAIL / 10);
      const first = await store.getLogs(id!, 0, 4);
      expect(texts(first)).toEqual(keptNow.slice(0, 4));
      const rest = await store.getLogs(id!, first[3]!.seq, 100);
      expect(texts(rest)).toEqual(keptNow.slice(4));
      // A cursor from before the drop reads on from the oldest kept chunk.
      expect(texts(await store.getLogs(id!, 1, 2))).toEqual(keptNow.slice(0, 2));
    });

    it('trims each job on its own', async () => {
      const x = f();
      const store = await x.openWith({ logTailBytes: TAIL });
      const [busy, calm] = (await store.enqueue([x.job(), x.job()])).map((r) => r.job.id);
      await store.appendLogs([out(calm!, 'calm')]);
      for (let i = 0; i < 5; i++) await store.appendLogs([out(busy!, String(i).repeat(30)), out(calm!, String(i))]);
      expect(await kept(store, busy!)).toEqual(['2', '3', '4'].map((d) => d.repeat(30)));
      expect(await kept(store, calm!)).toEqual(['calm', '0', '1', '2', '3', '4']);
    });
  });
}
