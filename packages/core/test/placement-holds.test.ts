import { describe, expect, it } from 'vitest';
import { place, STARVING_WAIT_RATIO } from '@baton/core';
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
    const result = place([gpuJob('1-six', 6), gpuJob('2-long', 2)], [unknown], { now, starvingWaitRatio: 0 });
    expect(result.pending.get('1-six')?.message).toMatch(/agent a is held for it/);
    expect(codeOf(result, '2-long')).toBe('RESERVED_FOR_LARGER_JOB');
  });
});

describe('place: holds of unknown length only for starving jobs', () => {
  const now = 1_000_000;
  // Two agents, each with 4 of 8 GPUs busy with jobs of unknown end.
  const fleet = () => [gpuAgent('a', 4, { freeSlots: 4 }), gpuAgent('b', 4, { freeSlots: 4 })];
  /** The 8-GPU job has waited `bigWait` ms; six 1-GPU jobs behind it waited 100 ms each. */
  const jobs = (bigWait: number) => [
    gpuJob('0-big', 8, { queuedAt: now - bigWait }),
    ...Array.from({ length: 6 }, (_, i) => gpuJob(`${i + 1}-small`, 1, { queuedAt: now - 100 })),
  ];

  it('a blocked job that just missed a gap holds nothing: the small jobs run', () => {
    const result = place(jobs(100), fleet(), { now });
    expect(result.pending.get('0-big')?.message).not.toMatch(/is held for it/);
    expect(result.placements).toHaveLength(6);
  });

  it(`one that waited ${STARVING_WAIT_RATIO}× the mean wait of the jobs given holds an agent`, () => {
    // Mean wait: (w + 6·100) / 7; the big job starves once w ≥ 2 of that, i.e. w ≥ 240.
    const starving = place(jobs(240), fleet(), { now });
    expect(starving.pending.get('0-big')?.message).toMatch(/is held for it/);
    expect(starving.placements).toHaveLength(4);
    expect(place(jobs(239), fleet(), { now }).pending.get('0-big')?.message).not.toMatch(/is held for it/);
  });

  it('holds at once with a ratio of 0, without now, or without queue times', () => {
    for (const result of [
      place(jobs(100), fleet(), { now, starvingWaitRatio: 0 }),
      place(jobs(100), fleet()),
      place(
        jobs(100).map(({ queuedAt: _, ...j }) => j),
        fleet(),
        { now },
      ),
    ]) {
      expect(result.pending.get('0-big')?.message).toMatch(/is held for it/);
    }
  });

  it('holds at once when the shadow time is known: the room is lent to jobs done in time', () => {
    const timed = [
      gpuAgent('a', 4, { freeSlots: 4, releases: [{ atMs: now + 5000, slots: 4, gpus: 4 }] }),
      gpuAgent('b', 4, { freeSlots: 4 }),
    ];
    const result = place(jobs(100), timed, { now });
    expect(result.pending.get('0-big')?.message).toMatch(/agent a is held for it/);
  });
});
