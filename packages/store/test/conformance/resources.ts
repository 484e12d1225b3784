import { describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCES } from '@baton/core';
import type { Fixture } from './fixture.js';
import { LEASE_MS } from './fixture.js';

const GPU_JOB = {
  resources: { slots: 2, cpu: 1.5, memoryMb: 2048, gpus: 2 },
  constraints: { tags: ['region:us-east', 'cpu:high'] },
};

/** 14: resources, constraints and GPUs, as placement reads and writes them. */
export function resourceTests(f: () => Fixture): void {
  describe('resources and constraints', () => {
    it('round-trips resources and constraints through enqueue, getJob and pending', async () => {
      const x = f();
      const gpu = x.job({ ...GPU_JOB, task: 'train.model' });
      const plain = x.job();
      const results = await x.store.enqueue([gpu, plain]);
      expect(results[0]!.job).toMatchObject({ ...GPU_JOB, gpus: [] });
      expect(results[1]!.job).toMatchObject({ resources: DEFAULT_RESOURCES, constraints: { tags: [] }, gpus: [] });
      expect(await x.store.getJob(gpu.id)).toMatchObject({ ...GPU_JOB, gpus: [] });
      expect(await x.store.getJob(plain.id)).toMatchObject({ resources: DEFAULT_RESOURCES, constraints: { tags: [] } });
      expect(await x.store.pending([{ queue: x.queue, limit: 10 }])).toEqual([
        {
          id: gpu.id,
          queue: x.queue,
          task: 'train.model',
          priority: 'normal',
          priorityLevel: 0,
          ...GPU_JOB,
          avoidAgentId: null,
          timeLimitMs: null,
          owner: x.owner,
        },
        {
          id: plain.id,
          queue: x.queue,
          task: 'test.task',
          priority: 'normal',
          priorityLevel: 0,
          resources: DEFAULT_RESOURCES,
          constraints: { tags: [] },
          avoidAgentId: null,
          timeLimitMs: null,
          owner: x.owner,
        },
      ]);
      // A job's timeout bounds how long it runs: placement backfills with it.
      const timed = x.job({ timeoutMs: 90_000 });
      await x.store.enqueue([timed]);
      const all = await x.store.pending([{ queue: x.queue, limit: 10 }]);
      expect(all.find((p) => p.id === timed.id)?.timeLimitMs).toBe(90_000);
    });

    it('records the GPUs of an assignment and hands them over with the resources', async () => {
      const x = f();
      const [gpuJob] = await x.enqueue(1, GPU_JOB);
      const [plain] = await x.enqueue(1);
      const assigned = await x.store.assign(
        [
          { jobId: gpuJob!, agentId: 'agent-gpu', gpus: [1, 3] },
          { jobId: plain!, agentId: 'agent-cpu', gpus: [] },
        ],
        LEASE_MS,
      );
      expect(assigned.map((a) => a.job)).toEqual([
        expect.objectContaining({ id: gpuJob, agentId: 'agent-gpu', resources: GPU_JOB.resources, gpus: [1, 3] }),
        expect.objectContaining({ id: plain, agentId: 'agent-cpu', resources: DEFAULT_RESOURCES, gpus: [] }),
      ]);
      expect(await x.store.getJob(gpuJob!)).toMatchObject({ state: 'assigned', agentId: 'agent-gpu', gpus: [1, 3] });
      expect(await x.store.getJob(plain!)).toMatchObject({ state: 'assigned', gpus: [] });
    });

    it('records the GPUs of the new assignment when a job is assigned again', async () => {
      const x = f();
      const first = await x.leased('agent-a', GPU_JOB);
      expect(first.job.gpus).toEqual([]);
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [first.job.id], failed: [], nextExpiryAt: null });
      const second = await x.assign(first.job.id, 'agent-b', [0, 2]);
      expect(second.job.gpus).toEqual([0, 2]);
      expect(await x.store.getJob(first.job.id)).toMatchObject({ agentId: 'agent-b', gpus: [0, 2] });
    });
  });

  describe('avoiding an agent whose lease expired', () => {
    it('names the agent whose lease on the job last ran out', async () => {
      const x = f();
      const a = await x.running('agent-dead');
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [a.job.id], failed: [], nextExpiryAt: null });
      const [pending] = await x.store.pending([{ queue: x.queue, limit: 10 }]);
      expect(pending).toMatchObject({ id: a.job.id, avoidAgentId: 'agent-dead' });

      await x.assign(a.job.id, 'agent-also-dead');
      x.advance(LEASE_MS);
      expect(await x.store.expireLeases()).toEqual({ requeued: [a.job.id], failed: [], nextExpiryAt: null });
      expect(await x.store.pending([{ queue: x.queue, limit: 10 }])).toEqual([
        expect.objectContaining({ id: a.job.id, avoidAgentId: 'agent-also-dead' }),
      ]);
    });

    it('leaves it null for jobs retried after a failure the agent reported', async () => {
      const x = f();
      const a = await x.running('agent-1', { backoffMs: 0 });
      expect((await x.store.complete([x.fail(a)]))[0]).toMatchObject({ ok: true, state: 'queued' });
      expect(await x.store.pending([{ queue: x.queue, limit: 10 }])).toEqual([
        expect.objectContaining({ id: a.job.id, avoidAgentId: null }),
      ]);
    });
  });
}
