import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import type { JobAssignment, JobState, NewJob } from '@baton/core';
import { openStore } from '@baton/store';
import type { EnqueueResult, Store, StoreEvent } from '@baton/store';

/**
 * Durability of the Redis store across a server crash: this file starts its own `redis-server`
 * (the installed binary) with AOF on a free loopback port in a temp dir, enqueues jobs in
 * batches from several writers while the server is killed with SIGKILL and started again on
 * the same port and dir, and checks that every job whose enqueue call resolved is there, once,
 * in the state it was acknowledged in. The store is never reopened: it must reconnect by itself.
 */
const HOST = '127.0.0.1';
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'baton-redis-aof-'));
const logFile = join(dir, 'redis.log');
const prefix = `baton-aof-${randomBytes(5).toString('hex')}`;
let port = 0;
let server: ChildProcess | null = null;

/** Writers enqueueing at once, batches each, jobs per batch. */
const WRITERS = 3;
const BATCHES = 40;
const BATCH_SIZE = 20;
/** The server is killed once this many batches (over all writers) were acknowledged. */
const CRASH_AFTER_BATCHES = 30;
/** How long the server stays down: past the client's per-command retries, so batches fail. */
const OUTAGE_MS = 400;
const LEASE_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function startServer(): ChildProcess {
  return spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--dir',
      dir,
      '--logfile',
      logFile,
      // `always` fsyncs the AOF before a write is acknowledged. With `everysec` (the usual
      // setting) a crash may lose up to about a second of acknowledged writes, as the README
      // says; this test kills the server and checks that nothing acknowledged is lost, which
      // only `always` promises.
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      // No RDB snapshots: what survives the crash comes from the AOF alone.
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
}

/** Stops the server (SIGKILL: a crash) and waits for the process to be gone. */
async function stopServer(signal: NodeJS.Signals): Promise<void> {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

async function cli(...command: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', HOST, '-p', String(port), ...command]);
  return stdout.trim();
}

/** Waits until the server answers PING (not while it is still loading its AOF). */
async function serverAnswers(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await cli('ping').catch(() => '')) === 'PONG') return;
    if (Date.now() > deadline) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '(no log)';
      throw new Error(`redis-server on port ${port} did not answer PING; its log ends:\n${log}`);
    }
    await sleep(25);
  }
}

/** Kills the server with SIGKILL, keeps it down for OUTAGE_MS, starts it on the same port and dir. */
async function crashAndRestart(): Promise<{ killedAt: number; backAt: number }> {
  const killedAt = Date.now();
  await stopServer('SIGKILL');
  await sleep(OUTAGE_MS);
  server = startServer();
  await serverAnswers();
  return { killedAt, backAt: Date.now() };
}

/** Waits until the (never reopened) store answers again; the time it first did. */
async function storeAnswers(store: Store, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await store.ping();
      return Date.now();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the store did not reconnect: ${String(err)}`);
      await sleep(20);
    }
  }
}

function newJob(queue: string, idempotencyKey: string | null): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue,
    task: 't',
    owner: 'durability',
    payload: { key: idempotencyKey },
    priority: 'normal',
    priorityLevel: 0,
    resources: { ...DEFAULT_RESOURCES },
    constraints: { tags: [] },
    maxAttempts: 1,
    backoffMs: 0,
    timeoutMs: null,
    runAt: now,
    idempotencyKey,
    createdAt: now,
  };
}

beforeAll(async () => {
  port = await freePort();
  server = startServer();
  await serverAnswers();
  expect(await cli('config', 'get', 'appendfsync')).toBe('appendfsync\nalways');
});

afterAll(async () => {
  await stopServer('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** One batch a writer enqueues, retried until a call for it resolves. */
interface Batch {
  jobs: NewJob[];
  calls: number;
  /** Before the last call: which of its jobs an earlier, failed call had stored. */
  storedBeforeLastCall: Set<string>;
  results: EnqueueResult[] | null;
  ackedBeforeCrash: boolean;
}

describe('Redis durability (AOF, appendfsync always)', () => {
  it('loses no acknowledged job when the server is killed with SIGKILL mid-run and restarted', async () => {
    const url = `redis://${HOST}:${port}?prefix=${prefix}`;
    const store = await openStore(url);
    // A second store: its subscriber connection must come back too (events after the restart).
    const watcher = await openStore(url);
    const seen: StoreEvent[] = [];
    const off = watcher.subscribe((e) => seen.push(e));
    try {
      const loadQueue = `load-${randomBytes(4).toString('hex')}`;
      const lifeQueue = `life-${randomBytes(4).toString('hex')}`;

      // Before the crash: jobs driven to each state, whose states must survive it.
      const life = Array.from({ length: 6 }, (_, i) => newJob(lifeQueue, `life-${i}`));
      await store.enqueue(life);
      const assigned = await store.assign(
        life.slice(1, 5).map((j) => ({ jobId: j.id, agentId: 'agent-1', gpus: [] })),
        LEASE_MS,
      );
      expect(assigned).toHaveLength(4);
      const lease = new Map<string, JobAssignment>(assigned.map((a) => [a.job.id, a]));
      const token = (i: number) => lease.get(life[i]!.id)!.leaseToken;
      const ref = (i: number) => ({ jobId: life[i]!.id, leaseToken: token(i) });
      expect((await store.start([ref(2), ref(4)], LEASE_MS)).every((r) => r.ok)).toBe(true);
      const done = await store.complete([
        { ...ref(3), outcome: 'succeeded', result: { answer: 42 }, startedAt: Date.now() },
        { ...ref(4), outcome: 'failed', error: { code: 'E_BOOM', message: 'boom', retryable: false } },
      ]);
      expect(done.every((r) => r.ok)).toBe(true);
      await store.cancel(life[5]!.id);
      const lifeStates: JobState[] = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled'];

      // Writers enqueue batches; the crash comes after CRASH_AFTER_BATCHES acknowledged ones.
      const batches: Batch[][] = Array.from({ length: WRITERS }, () => []);
      let acknowledged = 0;
      let crashed = false;
      let triggerCrash!: () => void;
      const crashDue = new Promise<void>((resolve) => (triggerCrash = resolve));
      const writersDeadline = Date.now() + 12_000;

      const writer = async (w: number): Promise<void> => {
        for (let b = 0; b < BATCHES; b++) {
          const batch: Batch = {
            jobs: Array.from({ length: BATCH_SIZE }, (_, i) => newJob(loadQueue, `w${w}-b${b}-j${i}`)),
            calls: 0,
            storedBeforeLastCall: new Set(),
            results: null,
            ackedBeforeCrash: false,
          };
          batches[w]!.push(batch);
          for (;;) {
            batch.calls++;
            try {
              const results = await store.enqueue(batch.jobs);
              // Only now is the batch acknowledged.
              batch.results = results;
              batch.ackedBeforeCrash = !crashed;
              if (++acknowledged === CRASH_AFTER_BATCHES) triggerCrash();
              break;
            } catch (err) {
              if (Date.now() > writersDeadline) throw new Error(`batch w${w}-b${b} never went through: ${String(err)}`);
              // As a client would: wait for the store to answer, then send the same batch again
              // (same ids, same idempotency keys). Note which jobs the failed call had stored.
              await storeAnswers(store);
              const found = await Promise.all(batch.jobs.map((j) => store.getJob(j.id)));
              batch.storedBeforeLastCall = new Set(found.flatMap((j) => (j ? [j.id] : [])));
            }
          }
        }
      };

      const crash = crashDue.then(async () => {
        crashed = true;
        const { killedAt, backAt } = await crashAndRestart();
        const storeBackAt = await storeAnswers(store);
        return { killedAt, backAt, storeBackAt };
      });
      await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
      const first = await crash;

      const all = batches.flat();
      const retried = all.filter((b) => b.calls > 1);
      console.log(
        `[redis-durability] crash 1: the store answered again ${first.storeBackAt - first.killedAt} ms after ` +
          `SIGKILL (${first.storeBackAt - first.backAt} ms after the restarted server answered PING, ` +
          `${OUTAGE_MS} ms outage), without reopening; ${retried.length} batches retried, ` +
          `${all.filter((b) => b.ackedBeforeCrash).length} acknowledged before the crash`,
      );
      // The outage outlasts the client's per-command retries, so batches in flight failed.
      expect(retried.length).toBeGreaterThan(0);

      // Each result names the job the test sent (a key never maps to another job). A retried
      // batch reports created: false exactly for the jobs its failed call had already stored.
      for (const batch of all) {
        expect(batch.results).toHaveLength(BATCH_SIZE);
        batch.results!.forEach((r, i) => {
          expect(r.job.id).toBe(batch.jobs[i]!.id);
          if (batch.calls > 1) expect(r.created).toBe(!batch.storedBeforeLastCall.has(r.job.id));
        });
      }

      // A batch acknowledged before the crash, sent again: its keys survived, nothing new.
      const early = all.find((b) => b.ackedBeforeCrash)!;
      const again = await store.enqueue(early.jobs.map((j) => ({ ...j, id: newJobId() })));
      expect(again.map((r) => [r.created, r.job.id])).toEqual(early.jobs.map((j) => [false, j.id]));

      // Pub/sub came back on the other store's connection.
      const eventQueue = `events-${randomBytes(4).toString('hex')}`;
      await store.enqueue([newJob(eventQueue, null)]);
      for (let i = 0; i < 100 && !seen.some((e) => e.type === 'enqueued' && e.queues.includes(eventQueue)); i++)
        await sleep(20);
      expect(seen.some((e) => e.type === 'enqueued' && e.queues.includes(eventQueue))).toBe(true);

      // A second crash after the run, so every write acknowledged (before and after the first
      // restart) has been through a crash when it is checked.
      const second = await crashAndRestart();
      const secondStoreBackAt = await storeAnswers(store);
      console.log(
        `[redis-durability] crash 2: the store answered again ${secondStoreBackAt - second.killedAt} ms after ` +
          `SIGKILL (${secondStoreBackAt - second.backAt} ms after the restarted server answered PING)`,
      );

      // Every acknowledged job is there, queued, in its queue.
      const ids = all.flatMap((b) => b.jobs.map((j) => j.id));
      expect(new Set(ids).size).toBe(WRITERS * BATCHES * BATCH_SIZE);
      const byId = new Map(all.flatMap((b) => b.jobs.map((j) => [j.id, j] as const)));
      for (let at = 0; at < ids.length; at += 200) {
        const jobs = await Promise.all(ids.slice(at, at + 200).map((id) => store.getJob(id)));
        jobs.forEach((job, i) => {
          const id = ids[at + i]!;
          expect(job, `acknowledged job ${id}`).not.toBeNull();
          expect(job).toMatchObject({ id, state: 'queued', queue: loadQueue });
          expect(job!.idempotencyKey).toBe(byId.get(id)!.idempotencyKey);
        });
      }

      // ... exactly once: the queue lists each of them once and nothing else.
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listJobs({ queue: loadQueue, limit: 500, ...(cursor && { cursor }) });
        listed.push(...page.jobs.map((j) => j.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(listed).toHaveLength(ids.length);
      expect(new Set(listed)).toEqual(new Set(ids));
      // The indexes the scheduler reads agree.
      const stats = (await store.queueStats()).find((s) => s.queue === loadQueue);
      expect(stats?.counts.queued).toBe(ids.length);
      expect(await store.pending([{ queue: loadQueue, limit: ids.length + 10 }])).toHaveLength(ids.length);

      // The jobs driven before the first crash kept their states, results and leases.
      const lifeJobs = await Promise.all(life.map((j) => store.getJob(j.id)));
      expect(lifeJobs.map((j) => j?.state)).toEqual(lifeStates);
      expect(lifeJobs[3]!.result).toEqual({ answer: 42 });
      expect(lifeJobs[4]!.error).toMatchObject({ code: 'E_BOOM' });
      expect((await store.heartbeat([ref(1)], LEASE_MS))[0]).toMatchObject({ ok: true });
      expect((await store.complete([{ ...ref(2), outcome: 'succeeded', result: 'late' }]))[0]).toMatchObject({
        ok: true,
        state: 'succeeded',
      });
      // A lease token from before the crash still refuses a finished job.
      expect((await store.complete([{ ...ref(3), outcome: 'succeeded', result: 1 }]))[0]).toMatchObject({
        ok: false,
      });
    } finally {
      off();
      await watcher.close();
      await store.close();
    }
  }, 20_000);
});
