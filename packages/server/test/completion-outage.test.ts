import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Agent, defineTask } from '@baton/agent';
import { StoreUnavailableError } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';

/**
 * A job whose outcome the store cannot record (an outage) keeps its slot on the server, as it
 * does on the agent that sends the outcome again: freeing it would let placement give the
 * agent more work than it can start. The slot comes back once the store answers, or, should
 * the agent give up, once the job's lease has lapsed.
 */
const TASK = 'outage.gate';

/** The store, with the calls named in `failing` throwing STORE_UNAVAILABLE while `down`. */
function flakyStore(store: Store, failing: readonly string[]) {
  const state = { down: false, refused: 0 };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && failing.includes(prop)) {
        return async (...args: unknown[]) => {
          if (state.down) {
            state.refused++;
            throw new StoreUnavailableError('test outage');
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { store: proxy, state };
}

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a completion the store cannot record', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });

  const setUp = async (failing: string[], leaseMs: number) => {
    const real = await openStore('sqlite::memory:');
    cleanup.push(() => real.close());
    await real.registerTasks([{ task: TASK, queue: 'default' }]);
    const flaky = flakyStore(real, failing);
    const server: BatonServer = createBatonServer(flaky.store, {
      insecureNoAuth: true,
      leaseMs,
      heartbeatMs: 100,
      maxSweepMs: 50,
      logger: pino({ level: 'silent' }),
    });
    const url = await server.listen(0);
    cleanup.push(() => server.close());
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const started: string[] = [];
    const task = defineTask(TASK, async (_payload: unknown, ctx) => {
      started.push(ctx.job.id);
      if (started.length === 1) await gate;
      return { ok: true };
    });
    const agent = new Agent({ link: server.localLink(), tasks: [task], concurrency: 1 });
    await agent.start();
    cleanup.push(() => agent.stop(0));
    const submit = async () => {
      const response = await fetch(`${url}/api/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ task: TASK }),
      });
      return ((await response.json()) as { id: string }).id;
    };
    const session = () => server.gateway.agents()[0]!;
    return { real, flaky, server, agent, submit, open, started, session };
  };

  it('keeps the slot held until the retried completion lands', async () => {
    const { real, flaky, server, submit, open, started, session } = await setUp(['complete'], 30_000);
    const first = await submit();
    await until('the first job running', async () =>
      (await real.getJob(first))?.state === 'running' ? true : undefined,
    );
    const second = await submit();
    flaky.state.down = true;
    open();
    await until('two completions refused', () => (flaky.state.refused >= 2 ? true : undefined));
    // The agent retries the outcome: its slot is still taken, here as on the agent.
    expect(session().slotsUsed).toBe(1);
    expect(session().held.has(first)).toBe(true);
    expect(server.gateway.capacity()[0]?.freeSlots).toBe(0);
    expect((await real.getJob(second))?.state).toBe('queued');
    expect(started).toEqual([first]);

    flaky.state.down = false;
    const done = await until('the first job recorded', async () => {
      const job = await real.getJob(first);
      return job?.state === 'succeeded' ? job : undefined;
    });
    expect(done.attempts).toBe(1);
    await until('the second job recorded', async () =>
      (await real.getJob(second))?.state === 'succeeded' ? true : undefined,
    );
    expect(started).toEqual([first, second]);
    await until('the slot free again', () => (session().slotsUsed === 0 ? true : undefined));
  });

  it('frees the slot once the lease lapsed when the agent gave up reporting', async () => {
    const { real, flaky, server, submit, open, session } = await setUp(['complete', 'heartbeat', 'start'], 1_000);
    const first = await submit();
    await until('the first job running', async () =>
      (await real.getJob(first))?.state === 'running' ? true : undefined,
    );
    flaky.state.down = true;
    open();
    await until('a completion refused', () => (flaky.state.refused >= 1 ? true : undefined));
    expect(session().held.has(first)).toBe(true);
    // No report of it gets through for longer than its lease: it is not held forever.
    await until('the lapsed job released', () => (session().held.has(first) ? undefined : true));
    expect(session().slotsUsed).toBe(0);
    expect(server.gateway.capacity()[0]?.freeSlots).toBe(1);
    flaky.state.down = false;
  });
});
