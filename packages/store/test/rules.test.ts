import { describe, expect, it } from 'vitest';
import { ValidationError, newJobId, retryDelayMs } from '@baton/core';
import type { Completion, NewJob } from '@baton/core';
import { completionEnd, earliestRetry, leaseExpiredError, releaseEnd } from '../src/rules/attempt-rules.js';
import {
  ENQUEUE_ROUNDS,
  enqueuedEvent,
  firstOfEachKey,
  initialState,
  resendFreedKeys,
} from '../src/rules/enqueue-rules.js';
import { QueueStatsTally, encodeCursor, listFilter, pageOf } from '../src/rules/listing-rules.js';
import { storeSettings } from '../src/rules/options.js';
import { askedPending } from '../src/rules/scheduling-rules.js';

/**
 * The rules every backend shares (src/rules/), checked alone; the conformance suite checks
 * them through each backend.
 */
const job = (over: Partial<NewJob> = {}): NewJob =>
  ({ id: newJobId(), owner: 'o', queue: 'q', idempotencyKey: null, runAt: 0, ...over }) as NewJob;

describe('enqueue rules', () => {
  it('sends the first job of each (owner, key) and answers repeats with its job, in input order', () => {
    const a = job({ idempotencyKey: 'k' });
    const b = job({ idempotencyKey: 'k' });
    const c = job({ idempotencyKey: 'k', owner: 'other' });
    const d = job();
    const { sent, answer } = firstOfEachKey([a, b, c, d]);
    expect(sent).toEqual([a, c, d]);
    const created = sent.map((j) => ({ job: { ...j } as never, created: true }));
    const answers = answer(created);
    expect(answers.map((r) => r.created)).toEqual([true, false, true, true]);
    expect(answers[1]!.job).toBe(answers[0]!.job);
  });

  it('resends freed keys for a bounded number of rounds', async () => {
    let rounds = 0;
    await resendFreedKeys([1, 2], async (todo) => {
      rounds++;
      return todo;
    });
    expect(rounds).toBe(ENQUEUE_ROUNDS);
    rounds = 0;
    await resendFreedKeys([1, 2], async (todo) => {
      rounds++;
      return todo.slice(1);
    });
    expect(rounds).toBe(2);
    await resendFreedKeys([], async () => {
      throw new Error('nothing to do');
    });
  });

  it('announces the queues of created jobs and the earliest delayed one', () => {
    expect(enqueuedEvent([])).toBeNull();
    expect(
      enqueuedEvent([
        { queue: 'a', state: 'queued', runAt: 5 },
        { queue: 'b', state: 'delayed', runAt: 30 },
        { queue: 'a', state: 'delayed', runAt: 20 },
      ]),
    ).toEqual({ type: 'enqueued', queues: ['a', 'b'], dueAt: 20 });
    expect(initialState({ runAt: 10 }, 10)).toBe('queued');
    expect(initialState({ runAt: 11 }, 10)).toBe('delayed');
  });
});

describe('attempt rules', () => {
  const failed = (retryable: boolean): Completion =>
    ({ jobId: 'j', leaseToken: 't', outcome: 'failed', error: { code: 'E', message: 'm', retryable } }) as Completion;
  const budget = { attempts: 2, maxAttempts: 3, backoffMs: 1000 };

  it('retries a retryable failure with attempts left after the jittered backoff', () => {
    const end = completionEnd(failed(true), budget, 100, () => 0.5);
    expect(end).toEqual({ state: 'delayed', runAt: 100 + retryDelayMs(1000, 2, () => 0.5) });
    expect(completionEnd(failed(true), { ...budget, backoffMs: 0 }, 100, () => 0.5)).toEqual({
      state: 'queued',
      runAt: 100,
    });
  });

  it('ends the job on success, a permanent failure or the last attempt', () => {
    const ok = { jobId: 'j', leaseToken: 't', outcome: 'succeeded', result: 1 } as Completion;
    expect(completionEnd(ok, budget, 100, () => 0.5)).toEqual({ state: 'succeeded', runAt: null });
    expect(completionEnd(failed(false), budget, 100, () => 0.5)).toEqual({ state: 'failed', runAt: null });
    expect(completionEnd(failed(true), { ...budget, attempts: 3 }, 100, () => 0.5)).toEqual({
      state: 'failed',
      runAt: null,
    });
  });

  it('releases back to the queue at once while attempts are left', () => {
    expect(releaseEnd({ attempts: 1, maxAttempts: 2 }, 100)).toEqual({ state: 'queued', runAt: 100 });
    expect(releaseEnd({ attempts: 2, maxAttempts: 2 }, 100)).toEqual({ state: 'failed', runAt: null });
    expect(leaseExpiredError(null)).toEqual({
      code: 'LEASE_EXPIRED',
      message: 'agent ? stopped renewing its lease',
      retryable: true,
    });
    expect(
      earliestRetry([
        { state: 'queued', runAt: 1 },
        { state: 'delayed', runAt: 9 },
        { state: 'delayed', runAt: 7 },
      ]),
    ).toBe(7);
    expect(earliestRetry([{ state: 'failed', runAt: null }])).toBeUndefined();
  });
});

describe('argument rules', () => {
  it('asks pending only for whole, positive limits', () => {
    expect(
      askedPending([
        { queue: 'a', limit: 0 },
        { queue: 'b', limit: -1 },
        { queue: 'c', limit: 2.7 },
        { queue: 'd', limit: 3 },
      ]),
    ).toEqual([
      { queue: 'c', limit: 2 },
      { queue: 'd', limit: 3 },
    ]);
  });

  it('checks a listing and pages it', () => {
    expect(() => listFilter({ state: 'lost' as never, limit: 10 })).toThrow(ValidationError);
    expect(() => listFilter({ cursor: 'nope', limit: 10 })).toThrow(ValidationError);
    const id = newJobId();
    expect(listFilter({ cursor: encodeCursor(id), limit: 2.5 })).toMatchObject({ before: id, limit: 2 });
    const jobs = [{ id: 'c' }, { id: 'b' }, { id: 'a' }] as never[];
    expect(pageOf(jobs, 2)).toEqual({ jobs: jobs.slice(0, 2), nextCursor: encodeCursor('b') });
    expect(pageOf(jobs, 3)).toEqual({ jobs, nextCursor: null });
  });

  it('tallies queue statistics in queue order', () => {
    const tally = new QueueStatsTally(1000);
    tally.queue('z');
    tally.count('a', 'queued', 2);
    tally.waitingSince('a', 400);
    expect(tally.waiting().map((s) => s.queue)).toEqual(['a']);
    const stats = tally.result();
    expect(stats.map((s) => [s.queue, s.counts.queued, s.oldestQueuedAgeMs])).toEqual([
      ['a', 2, 600],
      ['z', 0, null],
    ]);
  });

  it('fills StoreOptions defaults and refuses a bad tail size', () => {
    expect(storeSettings({}).logTailBytes).toBe(256 * 1024);
    expect(() => storeSettings({ logTailBytes: 0 })).toThrow(ValidationError);
    const clock = () => 5;
    expect(storeSettings({ clock }).clock).toBe(clock);
  });
});
