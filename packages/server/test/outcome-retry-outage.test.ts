import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Agent, WsLink, defineTask } from '@baton/agent';
import type { TaskLogger } from '@baton/agent';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import type { ThrowawayServer } from '../../store/test/throwaway-servers.js';
import { throwawayPostgres, throwawayRedis } from '../../store/test/throwaway-servers.js';

/**
 * Issue #9: jobs that finish while the store's database restarts. Their completions fail with
 * STORE_UNAVAILABLE; the agent keeps them (and their slots) and sends them again with backoff
 * until the database is back, well within the lease, so every job ends succeeded on its first
 * attempt: none lost, none run again. A remote agent over the WebSocket link, a real server,
 * and a PostgreSQL or Redis of its own that the test stops and starts.
 */
const TASK = 'outage.finish';
const AGENT_TOKEN = 'outcome-retry-token-0123456789abcdef';
const JOBS = 4;
// Long enough that the restart fits in it: a job that runs again means an outcome was lost.
const LEASE_MS = 30_000;

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Keeps what the agent logs about each job's report. */
function reportLog(): TaskLogger & { retried: Set<string>; lost: Set<string> } {
  const retried = new Set<string>();
  const lost = new Set<string>();
  const jobOf = (fields: unknown) => (fields as { jobId?: string } | undefined)?.jobId;
  return {
    retried,
    lost,
    info() {},
    debug() {},
    warn(fields: unknown, message?: string) {
      const jobId = jobOf(fields);
      if (jobId && message === 'outcome not recorded; retrying') retried.add(jobId);
    },
    error(fields: unknown) {
      const jobId = jobOf(fields);
      if (jobId) lost.add(jobId); // any report the agent gave up on
    },
  } as TaskLogger & { retried: Set<string>; lost: Set<string> };
}

const backends: [string, () => Promise<ThrowawayServer>][] = [
  ['postgres', throwawayPostgres],
  ['redis', throwawayRedis],
];

describe.each(backends)('outcomes reported while a %s store restarts', (_name, startDb) => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('are recorded once the store is back: every job succeeds on its first attempt', async () => {
    const db = await startDb();
    cleanup.push(() => db.dispose());
    const store: Store = await openStore(db.storeUrl(`outcomes_${randomBytes(4).toString('hex')}`));
    cleanup.push(() => store.close());
    await store.registerTasks([{ task: TASK, queue: 'default' }]);
    const server: BatonServer = createBatonServer(store, {
      insecureNoAuth: true,
      leaseMs: LEASE_MS,
      heartbeatMs: 500,
      maxSweepMs: 100,
      agentToken: AGENT_TOKEN,
      logger: pino({ level: 'silent' }), // the store's outage is expected here
    });
    const url = await server.listen(0);
    cleanup.push(() => server.close());

    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const task = defineTask(TASK, async (payload: { n: number }) => {
      await finished;
      return { n: payload.n };
    });
    const logger = reportLog();
    const link = new WsLink({ serverUrl: url, token: AGENT_TOKEN });
    const agent = new Agent({ link, tasks: [task], concurrency: JOBS, logger });
    await agent.start();
    cleanup.push(() => agent.stop(0));

    const submitted = await fetch(`${url}/api/jobs/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobs: Array.from({ length: JOBS }, (_, n) => ({ task: TASK, payload: { n } })) }),
    });
    expect(submitted.status).toBe(201);
    const ids = ((await submitted.json()) as { jobs: { id: string }[] }).jobs.map((j) => j.id);
    await until('every job running', async () => {
      const jobs = await Promise.all(ids.map((id) => store.getJob(id)));
      return jobs.every((j) => j?.state === 'running') ? true : undefined;
    });

    await db.stop();
    finish();
    // Every job has finished and failed to report at least once: its outcome waits on the agent.
    await until('every completion refused while the store is down', () =>
      ids.every((id) => logger.retried.has(id) || logger.lost.has(id)) ? true : undefined,
    );
    const heldWhileDown = agent.load;
    await db.start();

    const jobs = await until('every job final', async () => {
      const all = await Promise.all(ids.map((id) => store.getJob(id).catch(() => null)));
      return all.every((j) => j && ['succeeded', 'failed', 'cancelled'].includes(j.state)) ? all : undefined;
    });
    expect(jobs.map((j) => ({ id: j?.id, state: j?.state, attempts: j?.attempts, result: j?.result }))).toEqual(
      ids.map((id, n) => ({ id, state: 'succeeded', attempts: 1, result: { n } })),
    );
    expect([...logger.lost]).toEqual([]);
    expect(heldWhileDown).toBe(JOBS); // finished, but not done until recorded: the slots stayed held
    await until('the agent idle', () => (agent.load === 0 ? true : undefined));
  }, 120_000);
});
