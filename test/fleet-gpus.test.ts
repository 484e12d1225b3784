import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { api, job, startAgent, startServer, until } from './fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-gpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleepJob = (gpus: number, seconds: number, extra: Record<string, unknown> = {}) => ({
  task: 'command',
  payload: { argv: ['sh', '-c', `echo "gpus=$CUDA_VISIBLE_DEVICES"; sleep ${seconds}`] },
  resources: { gpus },
  ...extra,
});

const runningOn = async (url: string, id: string) =>
  until(`job ${id} running`, async () => {
    const j = await job(url, id);
    return j.state === 'running' || j.state === 'assigned' ? j : undefined;
  });

describe('GPU placement across agent processes', () => {
  const procs: Proc[] = [];
  const track = <T extends Proc>(p: T): T => (procs.push(p), p);
  afterEach(() => {
    for (const p of procs.splice(0)) p.kill('SIGKILL');
  });

  it('packs best-fit and hands each job its own device indices', async () => {
    const { proc, url } = await startServer();
    track(proc);
    const ids = new Map<string, string>();
    for (const [name, gpus] of [
      ['two', 2],
      ['four', 4],
      ['eight', 8],
    ] as const) {
      const p = track(await startAgent(url, name, ['--gpus', String(gpus), '--allow-commands', '--slots', '8']));
      ids.set((/as (agent-\S+):/.exec(p.output()) ?? [])[1] as string, name);
    }
    const nameOf = (j: { agentId: string }) => ids.get(j.agentId);

    // A 2-GPU job fits all three agents; best-fit leaves the fewest free GPUs: the 2-GPU agent.
    const { body: a } = await api(url, '/api/jobs', sleepJob(2, 30));
    const ja = await runningOn(url, a.id);
    expect(nameOf(ja)).toBe('two');
    expect(ja.gpus).toEqual([0, 1]);
    // A 4-GPU job now fits "four" exactly and "eight" loosely: "four".
    const { body: b } = await api(url, '/api/jobs', sleepJob(4, 30));
    const jb = await runningOn(url, b.id);
    expect(nameOf(jb)).toBe('four');
    expect(jb.gpus).toEqual([0, 1, 2, 3]);
    // Only "eight" has room now; successive jobs get disjoint devices there.
    const { body: c } = await api(url, '/api/jobs', sleepJob(3, 30));
    const { body: d } = await api(url, '/api/jobs', sleepJob(4, 30));
    const jc = await runningOn(url, c.id);
    const jd = await runningOn(url, d.id);
    expect([nameOf(jc), nameOf(jd)]).toEqual(['eight', 'eight']);
    const devices = [...jc.gpus, ...jd.gpus];
    expect(new Set(devices).size).toBe(7);
    expect(devices.every((i: number) => i >= 0 && i < 8)).toBe(true);

    // The task sees exactly its devices.
    await until('job c output', async () => (await api(url, `/api/jobs/${c.id}/logs`)).body.includes('gpus='));
    expect((await api(url, `/api/jobs/${c.id}/logs`)).body).toBe(`gpus=${jc.gpus.join(',')}\n`);

    const { body: cap } = await api(url, '/api/capacity');
    expect(cap).toEqual({
      status: 'OK',
      result: {
        slots: [{ name: 'default', capacity: 24, target: expect.any(Number), used: 4, available: 20, holders: 4 }],
        totals: { capacity: 24, used: 4, available: 20 },
        gpus: { total: 14, used: 13, available: 1, unhealthy: 0 },
      },
    });
    // `target` is a placeholder until autoscaling (docs/api.md): a slot count, nothing more yet.
    expect(Number.isInteger(cap.result.slots[0].target) && cap.result.slots[0].target >= 0).toBe(true);
    // A 2-GPU job fits nowhere now and says why.
    const { body: e } = await api(url, '/api/jobs', sleepJob(2, 1));
    const pending = await until('a pending reason', async () => {
      const j = await job(url, e.id);
      return j.state === 'queued' && j.pendingReason ? j : undefined;
    });
    expect(pending.pendingReason.code).toMatch(/WAITING_FOR_CAPACITY|RESERVED_FOR_LARGER_JOB/);
    // And one that could never fit says that.
    const { body: f } = await api(url, '/api/jobs', sleepJob(16, 1));
    expect((await job(url, f.id)).pendingReason.code).toBe('RESOURCES_EXCEED_AGENTS');
  });

  it('a large job at the head is not starved by a stream of small ones', async () => {
    const { proc, url } = await startServer();
    track(proc);
    track(await startAgent(url, 'g2', ['--gpus', '2', '--allow-commands', '--slots', '4']));
    const { body: first } = await api(url, '/api/jobs', sleepJob(1, 1));
    await runningOn(url, first.id);
    const { body: big } = await api(url, '/api/jobs', sleepJob(2, 0.2));
    const small = [];
    for (let i = 0; i < 4; i++) small.push((await api(url, '/api/jobs', sleepJob(1, 0.5))).body.id);
    // While the first job holds GPU 0, GPU 1 is held back for the 2-GPU job, not given to small jobs.
    const held = await until('the big job to report a reservation', async () => {
      const j = await job(url, big.id);
      return j.pendingReason ? j : undefined;
    });
    expect(held.state).toBe('queued');
    const smallWaiting = await job(url, small[0] as string);
    expect(smallWaiting.state).toBe('queued');
    expect(smallWaiting.pendingReason.code).toBe('RESERVED_FOR_LARGER_JOB');

    const bigDone = await until('the big job to finish', async () => {
      const j = await job(url, big.id);
      return j.state === 'succeeded' ? j : undefined;
    });
    expect(bigDone.gpus).toEqual([0, 1]);
    for (const id of small) {
      const s = await until('small jobs to finish', async () => {
        const j = await job(url, id);
        return j.state === 'succeeded' ? j : undefined;
      });
      expect(Date.parse(s.startedAt)).toBeGreaterThanOrEqual(Date.parse(bigDone.startedAt));
    }
  });

  it('backfills a held agent only with jobs whose timeout ends before the large job could start', async () => {
    const { proc, url } = await startServer();
    track(proc);
    track(await startAgent(url, 'g2', ['--gpus', '2', '--allow-commands', '--slots', '4']));
    // Holds GPU 0 for up to 60 s (its timeout): the 2-GPU job cannot start before then.
    const { body: first } = await api(url, '/api/jobs', sleepJob(1, 30, { timeoutMs: 60_000 }));
    await runningOn(url, first.id);
    const { body: big } = await api(url, '/api/jobs', sleepJob(2, 1));
    await until('the big job held', async () => (await job(url, big.id)).pendingReason);
    // No timeout: it could outlast the first job, so it may not use GPU 1.
    const { body: open } = await api(url, '/api/jobs', sleepJob(1, 1));
    // A 5 s timeout ends well before the first job's bound: it backfills GPU 1.
    const { body: short } = await api(url, '/api/jobs', sleepJob(1, 0.2, { timeoutMs: 5_000 }));
    const backfilled = await until('the short job to finish', async () => {
      const j = await job(url, short.id);
      return j.state === 'succeeded' ? j : undefined;
    });
    expect(backfilled.gpus).toEqual([1]);
    const waiting = await job(url, open.id);
    expect(waiting.state).toBe('queued');
    expect(waiting.pendingReason.code).toBe('RESERVED_FOR_LARGER_JOB');
    expect((await job(url, big.id)).state).toBe('queued');
  });

  it('an unhealthy GPU leaves capacity and its job moves off it', async () => {
    const { proc, url } = await startServer();
    track(proc);
    const healthFile = join(dir, 'health.json');
    const flaky = track(
      await startAgent(url, 'flaky', [
        '--gpus',
        '2',
        '--allow-commands',
        '--gpu-health-file',
        healthFile,
        '--gpu-health-interval-ms',
        '100',
      ]),
    );
    const flakyId = (/as (agent-\S+):/.exec(flaky.output()) ?? [])[1];
    const { body: submitted } = await api(url, '/api/jobs', sleepJob(2, 30, { maxAttempts: 3 }));
    const first = await runningOn(url, submitted.id);
    expect(first.agentId).toBe(flakyId);
    track(await startAgent(url, 'spare', ['--gpus', '2', '--allow-commands']));

    writeFileSync(healthFile, JSON.stringify({ unhealthy: { '1': 'XID 79: GPU has fallen off the bus' } }));
    const moved = await until('the job running again on the spare agent', async () => {
      const j = await job(url, submitted.id);
      return j.attempts === 2 && (j.state === 'running' || j.state === 'assigned') ? j : undefined;
    });
    expect(moved.agentId).not.toBe(flakyId);
    expect(moved.history[0]).toMatchObject({ attempt: 1, agentId: flakyId, outcome: 'failed' });
    expect(moved.history[0].error.code).toBe('GPU_UNHEALTHY');
    expect(moved.history[0].error.message).toMatch(/GPU 1 .*XID 79/);

    const { body: cap } = await api(url, '/api/capacity');
    expect(cap.result.gpus).toEqual({ total: 4, used: 2, available: 1, unhealthy: 1 });
    const { body: agents } = await api(url, '/api/agents');
    const flakyView = agents.agents.find((a: { id: string }) => a.id === flakyId);
    expect(flakyView.gpus[1]).toMatchObject({ index: 1, healthy: false, reason: 'XID 79: GPU has fallen off the bus' });

    // Recovered: the GPU is capacity again.
    writeFileSync(healthFile, JSON.stringify({ unhealthy: {} }));
    await until('the GPU back in capacity', async () => {
      const { body } = await api(url, '/api/capacity');
      return body.result.gpus.unhealthy === 0 && body.result.gpus.available === 2;
    });
  });
});
