import type { NewJob } from '@baton/core';
import { BatonError, MAX_BULK_JOBS } from '@baton/core';
import type { EnqueueResult, Store } from '@baton/store';

interface Waiting {
  job: NewJob;
  resolve: (result: EnqueueResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for single submissions: jobs submitted one per request that arrive together
 * share one `store.enqueue` call (one transaction on SQLite and PostgreSQL, one pipeline on
 * Redis, one `enqueued` event), instead of a store round trip, a commit and an event each.
 *
 * Nothing waits on a timer. The first job after a quiet spell goes out on the next turn of
 * the event loop (with whatever arrived in the same turn); while a call is in flight, new jobs
 * gather and go out together the moment it returns. So a lone request pays nothing, and under
 * load the batch grows to what arrived during one store call: a request waits at most about
 * one store call longer, and the store does one call per batch instead of per job.
 *
 * Each request still gets its own job's result. A batch behaves as the same jobs submitted in
 * order: two requests with one (owner, idempotency key) get the one job, the second
 * `created: false`. A store call that fails fails each request of its batch with the same
 * error (the store writes a batch atomically on SQLite and PostgreSQL; see the store's
 * README for Redis); callers retry as they would after any failed submission.
 */
export class SubmitBatcher {
  private waiting: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly store: Pick<Store, 'enqueue'>,
    private readonly limits: { maxBatch: number; maxInFlight: number } = { maxBatch: MAX_BULK_JOBS, maxInFlight: 1 },
  ) {}

  /** Stores one job, with others that arrive together; answers with its own result. */
  submit(job: NewJob): Promise<EnqueueResult> {
    return new Promise<EnqueueResult>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.kick();
    });
  }

  /** Jobs waiting for a store call (for tests and metrics). */
  get backlog(): number {
    return this.waiting.length;
  }

  private kick(): void {
    if (this.scheduled || this.waiting.length === 0 || this.inFlight >= this.limits.maxInFlight) return;
    this.scheduled = true;
    // One turn: requests parsed in the same I/O phase join the first batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.waiting.length > 0 && this.inFlight < this.limits.maxInFlight) {
      const batch = this.waiting.splice(0, this.limits.maxBatch);
      this.inFlight += 1;
      void this.send(batch).finally(() => {
        this.inFlight -= 1;
        this.kick();
      });
    }
  }

  private async send(batch: Waiting[]): Promise<void> {
    let results: EnqueueResult[];
    try {
      results = await this.store.enqueue(batch.map((w) => w.job));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const result = results[i];
      if (result) w.resolve(result);
      else w.reject(new BatonError('INTERNAL', 'store returned no result for a job', 500));
    });
  }
}
