import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { PayloadsOf } from '@baton/agent';
import type { demoTasks } from '@baton/agent';
import { BatonApiError, BatonClient } from '@baton/client';
import type { Harness } from '../../server/test/harness.js';
import { startHarness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';

describe('BatonClient against a real server', () => {
  let h: Harness;
  let baton: BatonClient<PayloadsOf<typeof demoTasks>>;
  beforeAll(async () => {
    h = await startHarness();
    baton = new BatonClient({ baseUrl: h.url, user: 'sdk-user', token: TEST_ADMIN_TOKEN });
  });
  afterAll(() => h.close());

  it('submits a typed job and waits for it, seeing progress', async () => {
    const { id, state, created } = await baton.submit('demo.sleep', { ms: 600 }, { priority: 'high' });
    expect(state).toBe('queued');
    expect(created).toBe(true);
    const updates: { state: string; progress: number | null }[] = [];
    const job = await baton.waitForJob(id, {
      pollMs: 20,
      onUpdate: (j) => updates.push({ state: j.state, progress: j.progress }),
    });
    expect(job).toMatchObject({ state: 'succeeded', result: { sleptMs: 600 }, owner: 'sdk-user', priority: 'high' });
    expect(updates.some((u) => u.state === 'running' && (u.progress ?? 0) > 0 && (u.progress ?? 0) < 100)).toBe(true);
    expect(job.history?.[0]?.outcome).toBe('succeeded');
  });

  it('submits many across bulk chunks, in order, and pages through them', async () => {
    const jobs = Array.from({ length: 2500 }, (_, i) => ({ task: 'demo.echo', payload: { i }, delayMs: 3_600_000 }));
    const submitted = await baton.submitMany(jobs, { chunkSize: 1000 });
    expect(submitted).toHaveLength(2500);
    expect(new Set(submitted.map((s) => s.id)).size).toBe(2500);
    expect([...submitted.map((s) => s.id)].sort()).toEqual(submitted.map((s) => s.id));
    const last = await baton.getJob(submitted[2499]!.id);
    expect(last.payload).toEqual({ i: 2499 });
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await baton.listJobs({ state: 'delayed', limit: 500, ...(cursor && { cursor }) });
      for (const j of page.jobs) seen.add(j.id);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen.size).toBe(2500);
    await expect(baton.submitMany(jobs.slice(0, 1), { chunkSize: 5000 })).rejects.toThrow(/chunkSize/);
  });

  it('returns the same job for the same idempotency key', async () => {
    const a = await baton.submit('demo.echo', { x: 1 }, { idempotencyKey: 'k-1' });
    const b = await baton.submit('demo.echo', { x: 2 }, { idempotencyKey: 'k-1' });
    expect(b).toEqual({ id: a.id, state: b.state, created: false });
  });

  it('cancels, and lists queues and tasks', async () => {
    const { id } = await baton.submit('demo.sleep', { ms: 1 }, { delayMs: 60_000 });
    expect((await baton.cancel(id)).state).toBe('cancelled');
    const queues = await baton.queues();
    expect(queues.find((q) => q.name === 'default')?.counts.cancelled).toBeGreaterThanOrEqual(1);
    expect(await baton.tasks()).toContainEqual({ task: 'demo.sleep', queue: 'default' });
  });

  it('raises BatonApiError with the server code and status', async () => {
    const untyped = new BatonClient({ baseUrl: h.url, token: TEST_ADMIN_TOKEN });
    const bad = await untyped.submit('demo.sleep', {}, { maxAttempts: 0 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BatonApiError);
    expect(bad).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((bad as Error).message).toMatch(/maxAttempts/);
    const missing = await untyped.getJob('01ARZ3NDEKTSV4RRFFQ69G5FAV').catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: 'JOB_NOT_FOUND' });
    const { id } = await untyped.submit('demo.echo', {});
    await untyped.waitForJob(id, { pollMs: 10 });
    const finished = await untyped.cancel(id).catch((e: unknown) => e);
    expect(finished).toMatchObject({ status: 409, code: 'JOB_FINISHED' });
  });

  it('stops waiting when the signal aborts', async () => {
    const { id } = await baton.submit('demo.sleep', { ms: 1 }, { delayMs: 60_000 });
    const started = Date.now();
    const err = await baton
      .waitForJob(id, { pollMs: 10_000, signal: AbortSignal.timeout(100) })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(2000);
    await baton.cancel(id);
  });

  it('raises UNREACHABLE naming the URL when nothing answers', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const nowhere = new BatonClient({ baseUrl: `http://127.0.0.1:${port}/`, requestTimeoutMs: 2000 });
    const err = await nowhere.queues().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonApiError);
    expect(err).toMatchObject({ status: 0, code: 'UNREACHABLE' });
    expect((err as Error).message).toContain(`http://127.0.0.1:${port}`);
  });

  it('raises UNREACHABLE when the server accepts but never answers', async () => {
    const silent = createServer(() => {});
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as AddressInfo).port)),
    );
    try {
      const stuck = new BatonClient({ baseUrl: `http://127.0.0.1:${port}`, requestTimeoutMs: 200 });
      const err = await stuck.tasks().catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 0, code: 'UNREACHABLE' });
      expect((err as Error).message).toMatch(/no answer within 200 ms/);
    } finally {
      silent.close();
      silent.unref();
    }
  });

  it('checks task names and payloads at compile time with a typed registry', () => {
    type Registry = { 'demo.sleep': { ms?: number } | null; 'demo.echo': unknown };
    const typed = new BatonClient<Registry>({ baseUrl: h.url, token: TEST_ADMIN_TOKEN });
    expectTypeOf(typed.submit).parameter(0).toEqualTypeOf<'demo.sleep' | 'demo.echo'>();
    // Never called: tsc (tsconfig.test.json) checks these lines.
    const compileOnly = () => {
      void typed.submit('demo.sleep', { ms: 1 });
      // @ts-expect-error payload of the wrong type
      void typed.submit('demo.sleep', { ms: 'soon' });
      // @ts-expect-error task not in the registry
      void typed.submit('no.such.task', {});
      void new BatonClient().submit('any.task.name', { anything: true });
    };
    expect(typeof compileOnly).toBe('function');
  });
});
