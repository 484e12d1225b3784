import { randomBytes } from 'node:crypto';
import type { Completion, JobAssignment, NewJob } from '@baton/core';
import { newJobId } from '@baton/core';
import type { Store } from '@baton/store';

/** Opens a fresh store for one test, on the given clock and random source. */
export type OpenStore = (options: { clock: () => number; random: () => number }) => Promise<Store>;

export const LEASE_MS = 10_000;
export const T0 = 1_800_000_000_000;

/**
 * What each conformance test works with: a store on a fake clock (advance it, never sleep),
 * a fixed random source (0.5, so backoff is exact), and a queue name no other test uses, so
 * backends on a shared server need no cleanup between tests.
 */
export class Fixture {
  now = T0;
  readonly queue = `q-${randomBytes(4).toString('hex')}`;
  store!: Store;

  async open(openStore: OpenStore): Promise<void> {
    this.store = await openStore({ clock: () => this.now, random: () => 0.5 });
  }

  advance(ms: number): void {
    this.now += ms;
  }

  job(overrides: Partial<NewJob> = {}): NewJob {
    return {
      id: newJobId(this.now),
      queue: this.queue,
      task: 'test.task',
      owner: 'alice',
      payload: { n: 1 },
      priority: 'normal',
      priorityLevel: 0,
      resources: { slots: 1 },
      maxAttempts: 3,
      backoffMs: 1000,
      timeoutMs: null,
      runAt: this.now,
      idempotencyKey: null,
      createdAt: this.now,
      ...overrides,
    };
  }

  async enqueue(count = 1, overrides: Partial<NewJob> = {}): Promise<string[]> {
    const results = await this.store.enqueue(Array.from({ length: count }, () => this.job(overrides)));
    return results.map((r) => r.job.id);
  }

  /** Enqueues a job and assigns it to `agentId`. */
  async leased(agentId = 'agent-1', overrides: Partial<NewJob> = {}): Promise<JobAssignment> {
    const [id] = await this.enqueue(1, overrides);
    const [assignment] = await this.store.assign([{ jobId: id!, agentId }], LEASE_MS);
    if (!assignment) throw new Error('assign returned nothing for a queued job');
    return assignment;
  }

  /** Enqueues, assigns and starts a job. */
  async running(agentId = 'agent-1', overrides: Partial<NewJob> = {}): Promise<JobAssignment> {
    const a = await this.leased(agentId, overrides);
    const [started] = await this.store.start([{ jobId: a.job.id, leaseToken: a.leaseToken }], LEASE_MS);
    if (!started?.ok) throw new Error(`start refused: ${JSON.stringify(started)}`);
    return a;
  }

  succeed(a: JobAssignment, result: unknown = { ok: true }): Completion {
    return { jobId: a.job.id, leaseToken: a.leaseToken, outcome: 'succeeded', result };
  }

  fail(a: JobAssignment, retryable = true, code = 'TASK_FAILED'): Completion {
    return {
      jobId: a.job.id,
      leaseToken: a.leaseToken,
      outcome: 'failed',
      error: { code, message: `boom ${code}`, retryable },
    };
  }

  async state(id: string): Promise<string | undefined> {
    return (await this.store.getJob(id))?.state;
  }
}
