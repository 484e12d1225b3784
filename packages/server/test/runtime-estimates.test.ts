import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { estimateRuntimeMs, runtimeClassKey } from '@baton/core';
import type { Harness } from './harness.js';
import { gateTask, isFinal, startHarness } from './harness.js';

/** Learned runtimes written within 20 ms, and read by the scheduler at most every 50 ms. */
const QUICK = { runtimeFlushMs: 20, runtimeRefreshMs: 50 };

describe('learned runtime estimates', () => {
  let h: Harness;
  afterEach(() => h?.close());

  /** Runs a demo.sleep job of `ms` to its end; answers its JSON. */
  async function sleepJob(ms: number): Promise<any> {
    const res = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms } });
    return h.waitFor(res.body.id, isFinal);
  }

  /** The runtimes the store keeps for a job's class, once it keeps `n`. */
  async function samplesOnceThere(job: any, n: number): Promise<number[]> {
    const key = runtimeClassKey(job.owner, job.task, job.resources);
    return vi.waitFor(
      async () => {
        const samples = (await h.store.runtimeSamples([key])).get(key) ?? [];
        expect(samples.length).toBeGreaterThanOrEqual(n);
        return samples;
      },
      { timeout: 5000, interval: 20 },
    );
  }

  it('shows a job its limit, a fresh class none, and after three successes the class history', async () => {
    h = await startHarness(QUICK);
    const limited = await h.post('/api/jobs', { task: 'demo.echo', payload: {}, timeoutMs: 60_000 });
    expect((await h.get(`/api/jobs/${limited.body.id}`)).body).toMatchObject({
      timeoutMs: 60_000,
      expectedRuntimeMs: 60_000,
      expectedRuntimeSource: 'limit',
    });

    // Held back (a run an hour away) so that it stays out of the history it is shown.
    const later = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: 1 }, delayMs: 3_600_000 });
    expect((await h.get(`/api/jobs/${later.body.id}`)).body).toMatchObject({
      expectedRuntimeMs: null,
      expectedRuntimeSource: 'none',
    });

    const runs = [];
    for (const ms of [30, 60, 90]) runs.push(await sleepJob(ms));
    expect(runs.map((j) => j.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const samples = await samplesOnceThere(runs[0], 3);
    expect(samples).toHaveLength(3);
    // Newest first, each about its sleep or more (hand-over to completion on the server's clock;
    // a timer and the wall clock may disagree by a millisecond).
    [90, 60, 30].forEach((ms, i) => expect(samples[i]).toBeGreaterThanOrEqual(ms - 2));
    // With three samples the 0.9 quantile is the longest run.
    const shown = (await h.get(`/api/jobs/${later.body.id}`)).body;
    expect(shown).toMatchObject({ expectedRuntimeSource: 'history', timeoutMs: null });
    expect(shown.expectedRuntimeMs).toBe(estimateRuntimeMs(samples));
    expect(shown.expectedRuntimeMs).toBe(Math.max(...samples));
    // A job with a limit keeps showing it.
    expect((await h.get(`/api/jobs/${limited.body.id}`)).body.expectedRuntimeSource).toBe('limit');
  });

  it('plans with the estimate but never kills a job that runs well past it', async () => {
    h = await startHarness(QUICK);
    const warm = [];
    for (let i = 0; i < 3; i++) warm.push(await sleepJob(10));
    const estimate = estimateRuntimeMs(await samplesOnceThere(warm[0], 3))!;
    // No pass has met the class since it gained its history: the next one reads it (its own
    // placement may still plan without), and the pass after plans with it.
    await new Promise((r) => setTimeout(r, QUICK.runtimeRefreshMs + 10));
    await sleepJob(10);

    const longMs = Math.max(800, estimate * 5);
    const res = await h.post('/api/jobs', { task: 'demo.sleep', payload: { ms: longMs } });
    const running = await h.waitFor(res.body.id, (j) => j.state === 'running');
    expect(running).toMatchObject({ timeoutMs: null, expectedRuntimeSource: 'history' });
    // Its agent's room is planned back by hand-over + the estimate (never told to the agent).
    const held = h.server.gateway.agents()[0]!.held.get(res.body.id)!;
    expect(held.endsBy - held.startedAt!).toBeGreaterThanOrEqual(estimate);
    expect(held.endsBy - held.startedAt!).toBeLessThan(longMs);

    const done = await h.waitFor(res.body.id, isFinal, 20_000);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 1, result: { sleptMs: longMs } });
    expect(Date.parse(done.finishedAt) - Date.parse(done.startedAt)).toBeGreaterThan(estimate * 3);
  });

  it("plans with the estimate another server's scheduler offered, never telling the agent", async () => {
    // No scheduler here: the test offers the job, as another server's scheduler would.
    h = await startHarness({ ...QUICK, agents: 0, scheduler: false });
    const gate = gateTask('test.estimate-gate');
    await h.addAgent({ concurrency: 1, tasks: [gate.task] });
    const jobId = (await h.post('/api/jobs', { task: 'test.estimate-gate' })).body.id as string;
    const agentId = h.server.gateway.agents()[0]!.id;
    const resources = { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 };
    await h.store.publish({
      type: 'offer',
      serverId: h.server.serverId,
      placements: [{ jobId, agentId, gpus: [], resources, expectedRuntimeMs: 50 }],
    });
    await h.waitFor(jobId, (j) => j.state === 'running');
    const held = h.server.gateway.agents()[0]!.held.get(jobId)!;
    expect(held.endsBy - held.startedAt!).toBe(50);
    expect(held.estimated).toBe(true);
    // Well past the estimate, it runs on; released, it succeeds on its first attempt.
    await new Promise((r) => setTimeout(r, 300));
    expect(gate.aborted).toEqual([]);
    // Past its estimate, when its room comes back is unknown again (not "due now").
    const session = h.server.gateway.agents()[0]!;
    expect(session.capacity().releases).toEqual([expect.objectContaining({ atMs: Infinity, slots: 1 })]);
    gate.release();
    expect(await h.waitFor(jobId, isFinal)).toMatchObject({ state: 'succeeded', attempts: 1, timeoutMs: null });
  });

  it('drops runtimes the store cannot take, and the job succeeds all the same', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    h = await startHarness({ ...QUICK, logger });
    // Set before anything reads it: the store's guard caches the method it first finds.
    h.store.recordRuntimes = async () => {
      throw new Error('the store is down');
    };
    expect((await sleepJob(1)).state).toBe('succeeded');
    await vi.waitFor(
      () => expect(lines.some((l) => l.includes('could not record job runtimes; dropped them'))).toBe(true),
      { timeout: 5000, interval: 20 },
    );
  });
});
