import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { EnqueueResult, Store, StoreEvent } from '@baton/store';

/**
 * A PostgreSQL connection drop mid-run: producers enqueue batches with idempotency keys and
 * two workers take jobs through pending → assign → complete on one store, while a plain `pg`
 * client terminates every backend of that store (pooled and LISTEN) twice. Failed calls are
 * retried as a scheduler or client would; afterwards every acknowledged job exists once and
 * has succeeded once, attempts never overlap, and the store (never reopened) has a working
 * pool and LISTEN connection again.
 */
const SERVER = process.env.BATON_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
const SCHEMA = `baton_resilience_${randomBytes(5).toString('hex')}`;
/** The application_name of the store whose backends are terminated; the watcher's differs. */
const APP = `${SCHEMA}_victim`;
const WATCHER_APP = `${SCHEMA}_watcher`;
const url = (app: string) => `${SERVER}${SERVER.includes('?') ? '&' : '?'}schema=${SCHEMA}&application_name=${app}`;

const OWNER = 'resilience';
/** How long the producer runs; backends are terminated at these offsets into it. */
const RUN_MS = 4000;
const KILLS_AT_MS = [1200, 2600];
const BATCH_SIZE = 10;
const PRODUCERS = 2;
/** Short, so an assignment whose answer was lost with its connection comes back quickly. */
const LEASE_MS = 1500;
const AGENTS = ['agent-a', 'agent-b'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let admin: pg.Client | null = null;

afterAll(async () => {
  const client = new pg.Client({ connectionString: SERVER });
  await client.connect();
  try {
    // Closed stores leave no connection behind.
    await vi.waitFor(
      async () => {
        const { rows } = await client.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE $1',
          [`${SCHEMA}%`],
        );
        expect(Number(rows[0]!.n)).toBe(0);
      },
      { timeout: 5000, interval: 50 },
    );
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await client.end();
    await admin?.end().catch(() => undefined);
  }
});

function newJob(queue: string, idempotencyKey: string): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue,
    task: 't',
    owner: OWNER,
    payload: { key: idempotencyKey },
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    maxAttempts: 10,
    backoffMs: 0,
    timeoutMs: null,
    runAt: now,
    idempotencyKey,
    createdAt: now,
  };
}

/** Backends of the store under test: pid, and whether it is the LISTEN connection. */
async function backends(client: pg.Client): Promise<{ pid: number; listening: boolean }[]> {
  const { rows } = await client.query<{ pid: number; listening: boolean }>(
    `SELECT pid, query LIKE 'LISTEN%' AS listening FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`,
    [APP],
  );
  return rows;
}

/**
 * Terminates every backend of the store under test, at a moment one of them is running a
 * statement (so a call is cut off, not only idle connections); the pids it ended.
 */
async function terminate(client: pg.Client): Promise<number[]> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const { rows } = await client.query<{ pid: number; ok: boolean }>(
      `SELECT pid, pg_terminate_backend(pid) AS ok FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1
         AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active')`,
      [APP],
    );
    if (rows.length > 0 || Date.now() > deadline) return rows.filter((r) => r.ok).map((r) => r.pid);
  }
}

interface Batch {
  jobs: NewJob[];
  calls: number;
  /** Before the last call: which of its jobs an earlier, failed call had stored. */
  storedBeforeLastCall: Set<string>;
  results: EnqueueResult[] | null;
}

/** A lease a worker was told it holds (the assign call answered). */
interface Held {
  jobId: string;
  agentId: string;
  attempt: number;
  leaseToken: string;
}

describe('PostgreSQL connection drop', () => {
  it('survives terminated backends mid-run with no lost or doubled job', async () => {
    admin = new pg.Client({ connectionString: SERVER });
    await admin.connect();
    const store: Store = await openStore(url(APP));
    const watcher: Store = await openStore(url(WATCHER_APP));
    const events: StoreEvent[] = [];
    const off = store.subscribe((e) => events.push(e));
    try {
      const queue = `q-${randomBytes(6).toString('hex')}`;
      const errors: string[] = [];
      const failed = (where: string, err: unknown) => errors.push(`${where}: ${(err as Error).message ?? String(err)}`);
      const hardDeadline = Date.now() + 14_000;
      const stillTime = (what: string) => {
        if (Date.now() > hardDeadline) throw new Error(`${what} did not finish in time; errors: ${errors.slice(-5)}`);
      };

      /** Reads which of these ids are stored, from outside the store (its connections may be down). */
      const stored = async (ids: string[]): Promise<Set<string>> => {
        const { rows } = await admin!.query<{ id: string }>(`SELECT id FROM "${SCHEMA}".jobs WHERE id = ANY($1)`, [
          ids,
        ]);
        return new Set(rows.map((r) => r.id));
      };

      // Producers: one batch after another until RUN_MS; a failed call is sent again, same
      // ids and keys, until it is answered. Only an answered call acknowledges its batch.
      const batches: Batch[] = [];
      let producing = true;
      const producer = async (p: number): Promise<void> => {
        for (let b = 0; producing; b++) {
          const batch: Batch = {
            jobs: Array.from({ length: BATCH_SIZE }, (_, i) => newJob(queue, `p${p}-b${b}-j${i}`)),
            calls: 0,
            storedBeforeLastCall: new Set(),
            results: null,
          };
          for (;;) {
            batch.calls++;
            try {
              batch.results = await store.enqueue(batch.jobs);
              break;
            } catch (err) {
              failed('enqueue', err);
              stillTime(`batch p${p}-b${b}`);
              await sleep(20);
              batch.storedBeforeLastCall = await stored(batch.jobs.map((j) => j.id));
            }
          }
          batches.push(batch);
          await sleep(20);
        }
      };

      // Workers, as a scheduler and an agent would: expire leases, read pending, assign, then
      // report success. A pass that fails is simply run again; a completion is resent until
      // answered (its answer may have been lost after it committed).
      const assignments: Held[] = [];
      const completed: Held[] = [];
      /** Completions whose first answer was lost: the retry may find the job already finished. */
      const ambiguous: Held[] = [];
      let draining = false;
      const acknowledged = () => new Set(batches.flatMap((b) => b.results!.map((r) => r.job.id)));
      const worker = async (agentId: string): Promise<void> => {
        for (;;) {
          stillTime(`worker ${agentId}`);
          if (draining) {
            // Done once every acknowledged job has succeeded.
            const { rows } = await admin!.query<{ n: string }>(
              `SELECT count(*) AS n FROM "${SCHEMA}".jobs WHERE queue = $1 AND state <> 'succeeded'`,
              [queue],
            );
            if (Number(rows[0]!.n) === 0) return;
          }
          let held: Held[];
          try {
            await store.expireLeases();
            const pending = await store.pending([{ queue, limit: 50 }]);
            if (pending.length === 0) {
              await sleep(draining ? 50 : 10);
              continue;
            }
            const assigned = await store.assign(
              pending.map((p) => ({ jobId: p.id, agentId, gpus: [] })),
              LEASE_MS,
            );
            held = assigned.map((a) => ({
              jobId: a.job.id,
              agentId,
              attempt: a.job.attempts,
              leaseToken: a.leaseToken,
            }));
            assignments.push(...held);
          } catch (err) {
            failed('pass', err);
            await sleep(20);
            continue;
          }
          if (held.length === 0) continue;
          let answered = false;
          for (let call = 1; !answered; call++) {
            try {
              const results = await store.complete(
                held.map((h) => ({
                  jobId: h.jobId,
                  leaseToken: h.leaseToken,
                  outcome: 'succeeded' as const,
                  result: { by: agentId },
                })),
              );
              answered = true;
              results.forEach((r, i) => {
                if (r.ok) completed.push(held[i]!);
                else if (call > 1 && r.code === 'FINISHED') ambiguous.push(held[i]!);
                // STALE_LEASE: the lease expired meanwhile and the job went back to the queue.
              });
            } catch (err) {
              failed('complete', err);
              stillTime(`complete by ${agentId}`);
              await sleep(20);
            }
          }
        }
      };

      const startedAt = Date.now();
      const killed: number[][] = [];
      const killer = (async () => {
        for (const at of KILLS_AT_MS) {
          await sleep(startedAt + at - Date.now());
          const before = await backends(admin!);
          expect(before.some((b) => b.listening)).toBe(true);
          killed.push(await terminate(admin!));
        }
      })();
      const producers = Array.from({ length: PRODUCERS }, (_, p) => producer(p));
      const workers = AGENTS.map((a) => worker(a));
      await sleep(RUN_MS);
      producing = false;
      await Promise.all(producers);
      await killer;
      draining = true;
      await Promise.all(workers);
      const afterDrops = Date.now();

      const all = batches;
      const ackedIds = [...acknowledged()];
      const retried = all.filter((b) => b.calls > 1);
      console.log(
        `[postgres-resilience] ${all.length} batches (${ackedIds.length} jobs), ${retried.length} retried; ` +
          `backends terminated: ${killed.map((k) => k.length).join(' + ')}; ${errors.length} failed calls ` +
          `(${[...new Set(errors.map((e) => e.replace(/\d+/g, 'N')))].slice(0, 4).join(' | ')}); ` +
          `${assignments.length} assignments, ${completed.length} completions answered ok, ` +
          `${ambiguous.length} found finished on retry`,
      );
      // Both drops hit the store: its pooled connections and its LISTEN connection.
      expect(killed).toHaveLength(KILLS_AT_MS.length);
      for (const pids of killed) expect(pids.length).toBeGreaterThanOrEqual(2);
      expect(errors.length).toBeGreaterThan(0);

      // Each result names the job sent; a retried batch reports created: false exactly for the
      // jobs its failed call had stored.
      for (const batch of all) {
        expect(batch.results).toHaveLength(BATCH_SIZE);
        batch.results!.forEach((r, i) => {
          expect(r.job.id).toBe(batch.jobs[i]!.id);
          expect(r.job.idempotencyKey).toBe(batch.jobs[i]!.idempotencyKey);
          expect(r.created).toBe(!batch.storedBeforeLastCall.has(r.job.id));
        });
      }
      // Sent again with new ids, an acknowledged batch creates nothing.
      const again = await store.enqueue(all[0]!.jobs.map((j) => ({ ...j, id: newJobId() })));
      expect(again.map((r) => [r.created, r.job.id])).toEqual(all[0]!.jobs.map((j) => [false, j.id]));

      // Every acknowledged job exists exactly once, and nothing else is in the queue.
      expect(new Set(ackedIds).size).toBe(all.length * BATCH_SIZE);
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listJobs({ queue, limit: 500, ...(cursor && { cursor }) });
        listed.push(...page.jobs.map((j) => j.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(listed).toHaveLength(ackedIds.length);
      expect(new Set(listed)).toEqual(new Set(ackedIds));
      const keys = await admin.query(
        `SELECT idempotency_key FROM "${SCHEMA}".jobs WHERE owner = $1 GROUP BY 1 HAVING count(*) > 1`,
        [OWNER],
      );
      expect(keys.rows).toEqual([]);

      // Every job succeeded once; its attempts are numbered 1..n, never overlap, and all but the
      // last ended by lease expiry (an assignment whose answer was lost with its connection).
      const completedBy = new Map(completed.map((h) => [h.jobId, h]));
      expect(completedBy.size).toBe(completed.length);
      const assignedAs = new Map<string, Held[]>();
      for (const h of assignments) assignedAs.set(h.jobId, [...(assignedAs.get(h.jobId) ?? []), h]);
      let expiredAttempts = 0;
      for (let at = 0; at < ackedIds.length; at += 100) {
        const ids = ackedIds.slice(at, at + 100);
        const [jobs, histories] = await Promise.all([
          Promise.all(ids.map((id) => store.getJob(id))),
          Promise.all(ids.map((id) => store.getAttempts(id))),
        ]);
        ids.forEach((id, i) => {
          const job = jobs[i]!;
          const history = histories[i]!;
          expect(job, id).toMatchObject({ id, state: 'succeeded', attempts: history.length });
          expect(history.map((a) => a.attempt)).toEqual(history.map((_, n) => n + 1));
          expect(history.filter((a) => a.outcome === 'succeeded')).toHaveLength(1);
          expect(history.at(-1)!.outcome).toBe('succeeded');
          for (const a of history.slice(0, -1)) expect(a.outcome).toBe('lease_expired');
          expiredAttempts += history.length - 1;
          for (let n = 1; n < history.length; n++) {
            expect(history[n]!.assignedAt).toBeGreaterThanOrEqual(history[n - 1]!.finishedAt!);
          }
          // No attempt was handed out twice.
          const mine = assignedAs.get(id) ?? [];
          expect(new Set(mine.map((h) => h.attempt)).size).toBe(mine.length);
          for (const h of mine) expect(history[h.attempt - 1]!.agentId).toBe(h.agentId);
          // A completion answered ok is the attempt that succeeded.
          const done = completedBy.get(id);
          if (done) {
            expect(done.attempt).toBe(history.length);
            expect(job!.agentId).toBe(done.agentId);
            expect(job!.result).toEqual({ by: done.agentId });
          }
        });
      }
      for (const h of ambiguous) expect(completedBy.has(h.jobId)).toBe(false);
      expect(completed.length + ambiguous.length).toBeLessThanOrEqual(ackedIds.length);
      console.log(`[postgres-resilience] ${expiredAttempts} attempts ended by lease expiry`);

      // The pool recovered without reopening the store: it answers, on backends that were
      // started after the drops.
      await store.ping();
      const now = await backends(admin);
      const dead = new Set(killed.flat());
      expect(now.length).toBeGreaterThan(0);
      for (const b of now) expect(dead.has(b.pid)).toBe(false);

      // The LISTEN connection came back: an event from the other store arrives.
      await vi.waitFor(async () => expect((await backends(admin!)).some((b) => b.listening)).toBe(true), {
        timeout: 5000,
        interval: 20,
      });
      const eventQueue = `events-${randomBytes(4).toString('hex')}`;
      await watcher.enqueue([newJob(eventQueue, `event-${afterDrops}`)]);
      await vi.waitFor(
        () => expect(events.filter((e) => e.type === 'enqueued' && e.queues.includes(eventQueue))).toHaveLength(1),
        { timeout: 5000, interval: 10 },
      );
    } finally {
      off();
      await watcher.close();
      await store.close();
    }
  }, 25_000);
});
