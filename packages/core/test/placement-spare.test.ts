import { describe, expect, it } from 'vitest';
import { place } from '@baton/core';
import { codeOf, gpuAgent, gpuJob, on } from './placement-fixtures.js';

describe('place: a held agent lends what the held job leaves spare', () => {
  const now = 1_000_000;
  // a: 8 GPUs, 5 busy with jobs that end by now+1000 at the latest, 3 free.
  const agent = () => gpuAgent('a', 3, { freeSlots: 7, releases: [{ atMs: now + 1000, slots: 1, gpus: 5 }] });

  it('a 6-GPU job holds it; jobs that do not end in time may take the 2 GPUs it leaves over', () => {
    const result = place([gpuJob('1-six', 6), gpuJob('2-long', 2), gpuJob('3-long', 1)], [agent()], { now });
    expect(result.pending.get('1-six')?.message).toMatch(/agent a is held for it/);
    // At the shadow time (now+1000) the agent has 8 free: 6 for the held job, 2 to spare.
    expect(on(result, '2-long')).toEqual({ jobId: '2-long', agentId: 'a', gpus: [0, 1] });
    expect(codeOf(result, '3-long')).toBe('RESERVED_FOR_LARGER_JOB');
  });

  it('an 8-GPU job leaves nothing spare: only jobs done by the shadow time use its room', () => {
    const result = place(
      [gpuJob('1-eight', 8), gpuJob('2-long', 1), gpuJob('3-short', 1, { timeLimitMs: 900 })],
      [agent()],
      { now },
    );
    expect(codeOf(result, '2-long')).toBe('RESERVED_FOR_LARGER_JOB');
    expect(on(result, '3-short')?.agentId).toBe('a');
  });

  it('with no known shadow time nothing is spare', () => {
    const unknown = gpuAgent('a', 3, { freeSlots: 7 });
    const result = place([gpuJob('1-six', 6), gpuJob('2-long', 2)], [unknown], { now });
    expect(result.pending.get('1-six')?.message).toMatch(/agent a is held for it/);
    expect(codeOf(result, '2-long')).toBe('RESERVED_FOR_LARGER_JOB');
  });
});
