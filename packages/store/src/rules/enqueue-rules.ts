import type { JobState, NewJob } from '@baton/core';
import type { EnqueueResult, StoreEvent } from '../contract.js';

/** What every backend does alike when it enqueues: idempotency keys, resends, the event. */

/**
 * Rounds of "send, then read back the jobs whose keys were taken" an enqueue makes at most. A
 * key whose job deleteFinished removed between the two is free again, so that job is sent
 * once more; only a retention race causes a round, so a few always suffice.
 */
export const ENQUEUE_ROUNDS = 5;

/** `owner` and idempotency key as one map key; null for a job without a key. */
export function idempotencyKeyOf(job: { owner: string; idempotencyKey: string | null }): string | null {
  return job.idempotencyKey === null ? null : `${job.owner}\u0000${job.idempotencyKey}`;
}

/**
 * The jobs of a batch to send: only the first of each (owner, key); `answer` maps the answers
 * of those (in order) back to the whole batch, in input order, a repeat taking its first's job
 * with `created: false`.
 */
export function firstOfEachKey(jobs: readonly NewJob[]): {
  sent: NewJob[];
  answer(answers: readonly EnqueueResult[]): EnqueueResult[];
} {
  const sent: NewJob[] = [];
  const slots: { index: number; repeat: boolean }[] = [];
  const firstByKey = new Map<string, number>();
  for (const job of jobs) {
    const key = idempotencyKeyOf(job);
    const first = key === null ? undefined : firstByKey.get(key);
    if (first !== undefined) {
      slots.push({ index: first, repeat: true });
      continue;
    }
    if (key !== null) firstByKey.set(key, sent.length);
    slots.push({ index: sent.length, repeat: false });
    sent.push(job);
  }
  return {
    sent,
    answer: (answers) =>
      slots.map(({ index, repeat }) => {
        const answer = answers[index]!;
        return repeat ? { job: answer.job, created: false } : answer;
      }),
  };
}

/**
 * Runs `round` on what is left to do, again while it answers something (jobs whose key was
 * freed meanwhile, to send again), at most {@link ENQUEUE_ROUNDS} times.
 */
export async function resendFreedKeys<T>(first: readonly T[], round: (todo: readonly T[]) => Promise<readonly T[]>) {
  for (let todo = first, n = 0; todo.length > 0 && n < ENQUEUE_ROUNDS; n++) todo = await round(todo);
}

/**
 * The `enqueued` event of the jobs an enqueue created: their queues, and the earliest time a
 * delayed one is due (so a scheduler sleeping until later wakes for it); null when none was
 * created (an idempotent resend announces nothing).
 */
export function enqueuedEvent(created: Iterable<{ queue: string; state: JobState; runAt: number }>): StoreEvent | null {
  const queues = new Set<string>();
  let dueAt = Infinity;
  for (const job of created) {
    queues.add(job.queue);
    if (job.state === 'delayed') dueAt = Math.min(dueAt, job.runAt);
  }
  if (queues.size === 0) return null;
  return { type: 'enqueued', queues: [...queues], ...(dueAt < Infinity && { dueAt }) };
}

/** A new job's first state: delayed until its `runAt`, else queued at once. */
export function initialState(job: { runAt: number }, now: number): 'queued' | 'delayed' {
  return job.runAt > now ? 'delayed' : 'queued';
}
