import { randomBytes } from 'node:crypto';
import type { Completion, JobAssignment, JobState, NewJob } from '@baton/core';
import { BatonError, DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { Store } from '@baton/store';
import { expect } from 'vitest';

/**
 * Opens an initialised store on one test's database, on the given clock and random source,
 * and with `logTailBytes` when given (the log tests open a second store with a small tail).
 */
export type OpenStore = (options: {
  clock: () => number;
  random: () => number;
  logTailBytes?: number;
}) => Promise<Store>;

/**
 * An empty database made for one test (a PostgreSQL schema, a Redis key prefix, a SQLite
 * file): the stores `open` returns share its data where the backend can (each in-memory
 * SQLite store has its own), and `drop` removes it all after the test, once they are closed.
 */
export interface TestDatabase {
  open: OpenStore;
  drop(): Promise<void>;
}

/** Makes a fresh {@link TestDatabase}; called once before every conformance test. */
export type NewTestDatabase = () => Promise<TestDatabase>;

export const LEASE_MS = 10_000;
/** Start of every test's fake clock (epoch ms, in 2027). */
export const T0 = 1_800_000_000_000;
/** The fixed random source every test's store gets, so retry jitter is exact. */
export const RANDOM = 0.5;
/** A well-formed job id that no test ever creates. */
export const UNKNOWN_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

/**
 * What each conformance test works with: a store on a fake clock (advance it, never sleep),
 * a fixed random source, and a database of its own, empty when the test begins, so every
 * answer (including those covering every queue: promoteDue, expireLeases, deleteFinished) is
 * checked exactly.
 */
export class Fixture {
  now = T0;
  readonly queue = `q-${randomBytes(6).toString('hex')}`;
  readonly owner = `owner-${randomBytes(6).toString('hex')}`;
  private opened: Store | undefined;
  private database: TestDatabase | undefined;
  private readonly extra: Store[] = [];

  get store(): Store {
    if (!this.opened) throw new Error('store not open');
    return this.opened;
  }

  async open(newDatabase: NewTestDatabase): Promise<void> {
    this.database = await newDatabase();
    this.opened = await this.database.open({ clock: () => this.now, random: () => RANDOM });
    // A test that begins on a store with jobs in it would assert nothing exact.
    expect((await this.opened.listJobs({ limit: 1 })).jobs).toEqual([]);
  }

  /** Another store on this test's database, on its clock, with other options; closed with the fixture. */
  async openWith(options: { logTailBytes?: number }): Promise<Store> {
    if (!this.database) throw new Error('store not open');
    const store = await this.database.open({ clock: () => this.now, random: () => RANDOM, ...options });
    this.extra.push(store);
    return store;
  }

  /** Closes every store the test opened, then drops its database. */
  async close(): Promise<void> {
    try {
      for (const store of this.extra.splice(0)) await store.close();
      await this.opened?.close();
      this.opened = undefined;
    } finally {
      const database = this.database;
      this.database = undefined;
      await database?.drop();
    }
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
