import { describe, expect, it } from 'vitest';
import { parseBatonConfig, poolDemand, strandedGpus } from '../src/index.js';
import type { BatonConfigInput, PoolConfig, Resources } from '../src/index.js';

function pools(input: BatonConfigInput['pools']): PoolConfig[] {
  const parsed = parseBatonConfig({ pools: input });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config.pools;
}
const r = (gpus: number, slots = 1): { resources: Resources } => ({ resources: { slots, cpu: 0, memoryMb: 0, gpus } });

describe('pool demand', () => {
  const fleet = pools({
    cpu: { queues: ['default', 'etl'], max: 10, slotsPerAgent: 4 },
    spare: { queues: ['default'], max: 10, slotsPerAgent: 4 },
    gpu: { queues: ['default', 'train'], max: 4, gpusPerAgent: 8 },
  });

  it('counts each job for the first pool that takes and fits it, preferring pools with agents', () => {
    const backlog = [{ queue: 'default', pending: 3, sample: [r(0), r(0), r(2)] }];
    const idle = poolDemand(fleet, backlog, new Set());
    expect(idle.demand.get('cpu')).toEqual({ pendingJobs: 2, pendingUnits: 2 });
    expect(idle.demand.get('spare')).toEqual({ pendingJobs: 0, pendingUnits: 0 });
    expect(idle.demand.get('gpu')).toEqual({ pendingJobs: 1, pendingUnits: 2 });
    // With only `spare` running, CPU jobs go to it and `cpu` stays at zero.
    const spareUp = poolDemand(fleet, backlog, new Set(['spare']));
    expect(spareUp.demand.get('cpu')?.pendingJobs).toBe(0);
    expect(spareUp.demand.get('spare')?.pendingJobs).toBe(2);
  });

  it('scales a sample to the queue count, and counts jobs no pool can run', () => {
    const backlog = [
      { queue: 'train', pending: 1000, sample: [r(8), r(4)] },
      { queue: 'train-big', pending: 5, sample: [r(16)] },
      { queue: 'train', pending: 0, sample: [] },
    ];
    const { demand, unplaceable } = poolDemand(
      fleet,
      [...backlog, { queue: 'default', pending: 2, sample: [r(16)] }],
      new Set(),
    );
    expect(demand.get('gpu')).toEqual({ pendingJobs: 1000, pendingUnits: 6000 });
    expect(unplaceable).toBe(7);
  });

  it('a queue with a count but no sample counts one slot per job', () => {
    expect(poolDemand(fleet, [{ queue: 'etl', pending: 4, sample: [] }], new Set()).demand.get('cpu')).toEqual({
      pendingJobs: 4,
      pendingUnits: 4,
    });
  });
});

describe('stranded GPUs', () => {
  it('counts free GPUs only where every pending GPU job the agent takes needs more', () => {
    const agents = [
      { pool: 'gpu', queues: ['train'], freeGpus: [0, 1, 2] }, // smallest job wants 4: 3 stranded
      { pool: 'gpu', queues: ['train'], freeGpus: [0, 1, 2, 3, 4] }, // fits a 4: none
      { pool: 'gpu', queues: ['other'], freeGpus: [7] }, // no GPU job waits for it: idle, not stranded
      { pool: 'small', queues: ['train'], freeGpus: [] },
    ];
    const backlog = [{ queue: 'train', pending: 2, sample: [r(8), r(4), r(0)] }];
    const stranded = strandedGpus(agents, backlog);
    expect(stranded.get('gpu')).toBe(3);
    expect(stranded.get('small')).toBeUndefined();
    expect(strandedGpus(agents, []).get('gpu')).toBe(0);
  });
});
