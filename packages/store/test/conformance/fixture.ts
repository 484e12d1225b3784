import { randomBytes } from 'node:crypto';
import type { Completion, JobAssignment, JobState, NewJob } from '@baton/core';
import { BatonError, DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { Store } from '@baton/store';
import { expect } from 'vitest';

/**
 * Opens a fresh, initialised store for one test, on the given clock and random source, and
 * with `logTailBytes` when given (the log tests open a second store with a small tail).
 */
export type OpenStore = (options: {
  clock: () => number;
  random: () => number;
  logTailBytes?: number;
}) => Promise<Store>;

export const LEASE_MS = 10_000;
/** Start of every test's fake clock (epoch ms, in 2027). */
export const T0 = 1_800_000_000_000;
/** The fixed random source every test's store gets, so retry jitter is exact. */
export const RANDOM = 0.5;
/** A well-formed job id that no test ever creates. */
export const UNKNOWN_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

/**
 * What each conformance test works with: a store on a fake clock (advance it, never sleep),
 * a fixed random source, and queue names no other test uses, so backends on a shared server
 * need no cleanup between tests.
 *
 * Some answers cover every queue (promoteDue's count and nextRunAt, expireLeases' lists and
 * nextExpiryAt). `exclusive` is true when the store held no job when the test began; tests
 * assert those answers exactly then, and as bounds or containment on a shared store.
 */
export class Fixture {
  now = T0;
  readonly queue = `q-${randomBytes(6).toString('hex')}`;
  readonly owner = `owner-${randomBytes(6).toString('hex')}`;
  exclusive = false;
  private opened: Store | undefined;
  private openStore: OpenStore | undefined;
  private readonly extra: Store[] = [];

  get store(): Store {
    if (!this.opened) throw new Error('store not open');
    return this.opened;
  }

  async open(openStore: OpenStore): Promise<void> {
    this.openStore = openStore;
    this.opened = await openStore({ clock: () => this.now, random: () => RANDOM });
    this.exclusive = (await this.opened.listJobs({ limit: 1 })).jobs.length === 0;
  }

  /**
   * Another store opened as the backend opens them (it may or may not see the same data),
   * on this test's clock, with other options; closed with the fixture.
   */
  async openWith(options: { logTailBytes?: number }): Promise<Store> {
    if (!this.openStore) throw new Error('store not open');
    const store = await this.openStore({ clock: () => this.now, random: () => RANDOM, ...options });
    this.extra.push(store);
    return store;
  }

  async close(): Promise<void> {
    for (const store of this.extra.splice(0)) await store.close();
    await this.opened?.close();
    this.opened = undefined;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  /** Another queue name private to this test. */
  otherQueue(suffix: string): string {
    return `${this.queue}-${suffix}`;
  }

  job(overrides: Partial<NewJob> = {}): NewJob {
    return {
      id: newJobId(this.now),
      queue: this.queue,
      task: 'test.task',
      owner: this.owner,
      payload: { n: 1 },
      priority: 'normal',
      priorityLevel: 0,
      resources: { ...DEFAULT_RESOURCES },
      constraints: { tags: [] },
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
    return this.assign(id!, agentId);
  }

  /** Assigns a queued job, failing the test if the store does not. */
  async assign(jobId: string, agentId = 'agent-1', gpus: number[] = []): Promise<JobAssignment> {
    const [assignment] = await this.store.assign([{ jobId, agentId, gpus }], LEASE_MS);
    if (!assignment) throw new Error(`assign returned nothing for job ${jobId}`);
    return assignment;
  }

  /** Enqueues, assigns and starts a job. */
  async running(agentId = 'agent-1', overrides: Partial<NewJob> = {}): Promise<JobAssignment> {
    const a = await this.leased(agentId, overrides);
    const [started] = await this.store.start([ref(a)], LEASE_MS);
    if (!started?.ok) throw new Error(`start refused: ${JSON.stringify(started)}`);
    return a;
  }

  succeed(a: JobAssignment, result: unknown = { ok: true }): Completion {
    return { ...ref(a), outcome: 'succeeded', result };
  }

  fail(a: JobAssignment, retryable = true, code = 'TASK_FAILED'): Completion {
    return { ...ref(a), outcome: 'failed', error: { code, message: `boom ${code}`, retryable } };
  }

  async state(id: string): Promise<JobState | undefined> {
    return (await this.store.getJob(id))?.state;
  }

  /**
   * `store.expireLeases()`. A backend may expire leases in batches, answering a `nextExpiryAt`
   * that is already due; on a shared store, other tests' leftovers can fill such a batch, so
   * it sweeps until nothing due is left. An exclusive store must finish in one call.
   */
  async expireLeases(): Promise<{ requeued: string[]; failed: string[]; nextExpiryAt: number | null }> {
    const out = await this.store.expireLeases();
    for (let i = 0; !this.exclusive && out.nextExpiryAt !== null && out.nextExpiryAt <= this.now; i++) {
      if (i > 100) throw new Error('expireLeases keeps answering a due nextExpiryAt');
      const more = await this.store.expireLeases();
      out.requeued.push(...more.requeued);
      out.failed.push(...more.failed);
      out.nextExpiryAt = more.nextExpiryAt;
    }
    return out;
  }

  /** `store.promoteDue()`, swept like {@link expireLeases}. */
  async promoteDue(): Promise<{ promoted: number; nextRunAt: number | null }> {
    const out = await this.store.promoteDue();
    for (let i = 0; !this.exclusive && out.nextRunAt !== null && out.nextRunAt <= this.now; i++) {
      if (i > 100) throw new Error('promoteDue keeps answering a due nextRunAt');
      const more = await this.store.promoteDue();
      out.promoted += more.promoted;
      out.nextRunAt = more.nextRunAt;
    }
    return out;
  }

  /** Asserts a list every queue contributes to: equal when exclusive, else containing. */
  expectIds(actual: string[], expected: string[]): void {
    if (this.exclusive) expect(actual).toEqual(expected);
    else for (const id of expected) expect(actual).toContain(id);
  }

  /**
   * Asserts a "next time" every queue contributes to: `expected` when exclusive, else after
   * now and no later than `expected` (another test's job may come first).
   */
  expectNextAt(actual: number | null, expected: number | null): void {
    if (this.exclusive || expected === null) {
      if (this.exclusive) expect(actual).toBe(expected);
      else if (actual !== null) expect(actual).toBeGreaterThan(this.now);
      return;
    }
    expect(actual).not.toBeNull();
    expect(actual!).toBeGreaterThan(this.now);
    expect(actual!).toBeLessThanOrEqual(expected);
  }
}

export function ref(a: JobAssignment): { jobId: string; leaseToken: string } {
  return { jobId: a.job.id, leaseToken: a.leaseToken };
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<BatonError> {
  const outcome = await promise.then(
    (value) => ({ resolved: true as const, value }),
    (err: unknown) => ({ resolved: false as const, err }),
  );
  if (outcome.resolved) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.err).toBeInstanceOf(BatonError);
  return outcome.err as BatonError;
}
