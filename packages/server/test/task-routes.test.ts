import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import { TaskRoutes } from '../dist/task-routes.js';

/**
 * A client spraying unknown task names must not cost a store read per request: a miss reads
 * the routes again only when they may have changed (a `routes` event, or a second since the
 * last read), and concurrent misses share one read. The store is a real one; the wrapper only
 * counts `taskRoutes()` calls.
 */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'taskRoutes') {
        return () => {
          reads++;
          return target.taskRoutes();
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, reads: () => reads };
}

const randomTask = () => `spray.${randomBytes(8).toString('hex')}`;

describe('task routes cache', () => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('reads the store at most once per minReloadMs for misses, at once after a routes event', async () => {
    const real = await openStore('sqlite::memory:');
    opened.push(real);
    await real.registerTasks([{ task: 'known', queue: 'default' }]);
    const { store, reads } = counting(real);
    let now = 1_000_000;
    const routes = new TaskRoutes(store, 5000, 1000, () => now);

    expect(await routes.resolveQueue('known', undefined)).toBe('default');
    expect(reads()).toBe(1);
    const misses = await Promise.allSettled(
      Array.from({ length: 1000 }, () => routes.resolveQueue(randomTask(), undefined)),
    );
    expect(misses.every((m) => m.status === 'rejected' && m.reason.code === 'UNKNOWN_TASK')).toBe(true);
    expect(reads()).toBe(1);

    // A second later a miss may read again, once, however many arrive together.
    now += 1000;
    await Promise.allSettled(Array.from({ length: 100 }, () => routes.resolveQueue(randomTask(), undefined)));
    expect(reads()).toBe(2);

    // An agent registering (anywhere: the store announces it) makes the next miss read at once.
    await real.registerTasks([{ task: 'fresh', queue: 'gpu' }]);
    expect(await routes.resolveQueue('fresh', undefined)).toBe('gpu');
    expect(reads()).toBe(3);
    await expect(routes.resolveQueue('fresh', 'default')).rejects.toMatchObject({ code: 'UNKNOWN_QUEUE' });
    expect(reads()).toBe(3);
    routes.close();
  });

  it('answers a miss with the last read’s failure, without reading again, until minReloadMs passed', async () => {
    const real = await openStore('sqlite::memory:');
    opened.push(real);
    let failing = true;
    let reads = 0;
    const store = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'taskRoutes') {
          return () => {
            reads++;
            return failing ? Promise.reject(new Error('down')) : target.taskRoutes();
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    let now = 0;
    const routes = new TaskRoutes(store, 5000, 1000, () => now);
    await expect(routes.resolveQueue('a', undefined)).rejects.toThrow('down');
    now += 10;
    for (let i = 0; i < 50; i++) await expect(routes.resolveQueue(randomTask(), undefined)).rejects.toThrow('down');
    expect(reads).toBe(1);
    failing = false;
    now += 1000;
    await expect(routes.resolveQueue(randomTask(), undefined)).rejects.toMatchObject({ code: 'UNKNOWN_TASK' });
    expect(reads).toBe(2);
    routes.close();
  });

  it('treats a cached route past its expiry as gone: reads the store again once it has passed', async () => {
    const real = await openStore('sqlite::memory:');
    opened.push(real);
    await real.registerTasks([{ task: 'brief', queue: 'default' }], 300);
    await real.registerTasks([{ task: 'kept', queue: 'default' }]);
    const { store, reads } = counting(real);
    // Neither the cache's own period nor misses would read again within the test.
    const routes = new TaskRoutes(store, 60_000, 60_000);
    expect(await routes.resolveQueue('brief', undefined)).toBe('default');
    expect(await routes.resolveQueue('kept', undefined)).toBe('default');
    expect(reads()).toBe(1);

    const deadline = Date.now() + 5000;
    let refusal: { code?: string } | undefined;
    while (!refusal) {
      refusal = await routes.resolveQueue('brief', undefined).then(
        () => undefined,
        (err: { code?: string }) => err,
      );
      if (Date.now() > deadline) throw new Error('the expired route was still answered');
      if (!refusal) await new Promise((r) => setTimeout(r, 20));
    }
    expect(refusal.code).toBe('UNKNOWN_TASK');
    expect(reads()).toBe(2); // one read when the expiry passed, none before
    expect(await routes.resolveQueue('kept', undefined)).toBe('default');
    expect(reads()).toBe(2);
    routes.close();
  });
});

describe('POST /api/jobs with unknown task names', () => {
  let server: BatonServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('answers 1 000 random unknown tasks with 400 UNKNOWN_TASK at a bounded number of store reads', async () => {
    const real = await openStore('sqlite::memory:');
    try {
      await real.registerTasks([{ task: 'known', queue: 'default' }]);
      const { store, reads } = counting(real);
      server = createBatonServer(store, { insecureNoAuth: true, maxSweepMs: 200 });
      const url = await server.listen(0);
      const submit = async (task: string) => {
        const r = await fetch(`${url}/api/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ task }),
        });
        return { status: r.status, code: ((await r.json()) as { error?: { code: string } }).error?.code };
      };
      const started = Date.now();
      const answers: { status: number; code: string | undefined }[] = [];
      for (let wave = 0; wave < 20; wave++) {
        answers.push(...(await Promise.all(Array.from({ length: 50 }, () => submit(randomTask())))));
      }
      const elapsedMs = Date.now() - started;
      expect(answers).toHaveLength(1000);
      expect(answers.every((a) => a.status === 400 && a.code === 'UNKNOWN_TASK')).toBe(true);
      // One read at first, then at most one a second (plus the periodic 5 s refresh): not 1 000.
      expect(reads()).toBeLessThanOrEqual(2 + Math.ceil(elapsedMs / 1000));

      // A task registered just now (the store announces it) is found at once.
      await real.registerTasks([{ task: 'just.registered', queue: 'default' }]);
      expect((await submit('just.registered')).status).toBe(201);
    } finally {
      await server?.close();
      server = null;
      await real.close();
    }
  });
});
