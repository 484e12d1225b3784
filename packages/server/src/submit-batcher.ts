import type { NewJob } from '@baton/core';
import { BatonError, MAX_BULK_JOBS } from '@baton/core';
import type { EnqueueResult, Store } from '@baton/store';
import { Batcher } from './agents/batcher.js';

/**
 * Group commit for single submissions: jobs submitted one per request that arrive together
 * share one `store.enqueue` call (one transaction on SQLite and PostgreSQL, one pipeline on
 * Redis, one `enqueued` event), instead of a store round trip, a commit and an event each.
 *
 * Nothing waits on a timer. The first job after a quiet spell goes out on the next turn of
 * the event loop (with whatever arrived in the same turn); while a call is in flight, new jobs
 * gather and go out together the moment it returns (the shared {@link Batcher} with one call
 * in flight). So a lone request pays nothing, and under load the batch grows to what arrived
 * during one store call: a request waits at most about one store call longer.
 *
 * Each request still gets its own job's result. A batch behaves as the same jobs submitted in
 * order: two requests with one (owner, idempotency key) get the one job, the second
 * `created: false`. A store call that fails fails each request of its batch with the same
 * error (the store writes a batch atomically on SQLite and PostgreSQL; see the store's
 * README for Redis); callers retry as they would after any failed submission.
 */
export class SubmitBatcher {
  private readonly batcher: Batcher<NewJob, EnqueueResult>;

  constructor(
    store: Pick<Store, 'enqueue'>,
    limits: { maxBatch: number; maxInFlight: number } = { maxBatch: MAX_BULK_JOBS, maxInFlight: 1 },
  ) {
    this.batcher = new Batcher((jobs) => store.enqueue(jobs), limits);
  }

  /** Stores one job, with others that arrive together; answers with its own result. */
  async submit(job: NewJob): Promise<EnqueueResult> {
    const [result] = await this.batcher.add([job]);
    if (!result) throw new BatonError('INTERNAL', 'store returned no result for a job', 500);
    return result;
  }

  /** Jobs waiting for a store call. */
  get backlog(): number {
    return this.batcher.backlog;
  }
}
