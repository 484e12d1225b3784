import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS } from './fixture.js';

export function retryTests(f: () => Fixture): void {
  describe('retries, delays and the dead letter', () => {
    it('delays a retryable failure by the backoff, promotes it when due, and dead-letters after maxAttempts', async () => {
      const x = f();
      const [id] = await x.enqueue(1, { maxAttempts: 3, backoffMs: 1000 });
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [a] = await x.store.assign([{ jobId: id!, agentId: 'agent-1' }], LEASE_MS);
        expect(a!.job.attempts).toBe(attempt);
        const [r] = await x.store.complete([x.fail(a!, true, `E${attempt}`)]);
        if (attempt === 3) {
          expect(r).toMatchObject({ ok: true, state: 'failed' });
          break;
        }
        expect(r).toMatchObject({ ok: true, state: 'delayed' });
        const delay = retryDelayMs(1000, attempt, () => 0.5);
        const job = await x.store.getJob(id!);
        expect(job).toMatchObject({
          state: 'delayed',
          runAt: x.now + delay,
          error: { code: `E${attempt}` },
          agentId: null,
        });
        x.advance(delay - 1);
        expect(await x.store.promoteDue()).toEqual({ promoted: 0, nextRunAt: x.now + 1 });
        x.advance(1);
        expect((await x.store.promoteDue()).promoted).toBe(1);
        expect(await x.state(id!)).toBe('queued');
      }
      const job = await x.store.getJob(id!);
      expect(job).toMatchObject({
        state: 'failed',
        attempts: 3,
        finishedAt: x.now,
        error: { code: 'E3', retryable: true },
      });
      expect((await x.store.getAttempts(id!)).map((t) => t.outcome)).toEqual(['failed', 'failed', 'failed']);
    });

    it('fails a non-retryable error at once, and requeues without delay when backoff is zero', async () => {
      const x = f();
      const a = await x.running();
      expect((await x.store.complete([x.fail(a, false, 'BAD_INPUT')]))[0]).toMatchObject({ ok: true, state: 'failed' });
      expect((await x.store.getJob(a.job.id))!.attempts).toBe(1);
      const b = await x.running('agent-1', { backoffMs: 0 });
      expect((await x.store.complete([x.fail(b)]))[0]).toMatchObject({ ok: true, state: 'queued' });
      expect((await x.store.pending([{ queue: x.queue, limit: 5 }])).map((p) => p.id)).toEqual([b.job.id]);
    });

    it('promotes delayed jobs only when due and reports the next due time', async () => {
      const x = f();
      const [soon] = await x.enqueue(1, { runAt: x.now + 100 });
      await x.enqueue(1, { runAt: x.now + 5000 });
      const first = await x.store.promoteDue();
      expect(first.promoted).toBe(0);
      expect(first.nextRunAt).toBeLessThanOrEqual(x.now + 100);
      x.advance(100);
      expect((await x.store.promoteDue()).promoted).toBeGreaterThanOrEqual(1);
      expect(await x.state(soon!)).toBe('queued');
    });
  });
}
