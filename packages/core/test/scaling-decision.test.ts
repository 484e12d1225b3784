import { describe, expect, it } from 'vitest';
import {
  HPA_SCALE_DOWN,
  HPA_SCALE_UP,
  chooseDrain,
  decidePool,
  emptyPoolMemory,
  parseBatonConfig,
  recommendReplicas,
  scaleDownLimit,
  scaleUpLimit,
  stabilize,
} from '../src/index.js';
import type { BatonConfigInput, PoolConfig, PoolDecision, PoolLoad, PoolMemory } from '../src/index.js';

function pool(extra: Partial<BatonConfigInput['pools'][string]> = {}): PoolConfig {
  const parsed = parseBatonConfig({ pools: { burst: { queues: ['burst'], max: 10, slotsPerAgent: 2, ...extra } } });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const p = parsed.config.pools[0];
  if (!p) throw new Error('no pool');
  return p;
}

/** A pool's scaler run through a scripted timeline: one sync per step, `at` in seconds. */
function run(p: PoolConfig, steps: { at: number; load: Partial<PoolLoad> }[], tolerance = 0.1): PoolDecision[] {
  let memory: PoolMemory = emptyPoolMemory();
  const out: PoolDecision[] = [];
  for (const s of steps) {
    const load: PoolLoad = { agents: memory.desired ?? 0, pendingJobs: 0, pendingUnits: 0, runningUnits: 0, ...s.load };
    const r = decidePool(p, load, memory, s.at * 1000, tolerance);
    memory = r.memory;
    out.push(r.decision);
  }
  return out;
}

const pending = (n: number): Partial<PoolLoad> => ({ pendingJobs: n, pendingUnits: n });
const every = (from: number, to: number, step: number, load: Partial<PoolLoad>) =>
  Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => ({ at: from + i * step, load }));

describe('HPA steps', () => {
  it('recommends ceil(load / (units × target)) outside the tolerance, keeps replicas within it', () => {
    expect(recommendReplicas(0, 10, 2, 0.8, 0.1)).toBe(7); // 10 / 1.6 = 6.25
    expect(recommendReplicas(4, 7, 2, 1, 0.1)).toBe(4); // ratio 0.875: outside → ceil(3.5) = 4
    expect(recommendReplicas(4, 8.5, 2, 1, 0.1)).toBe(4); // ratio 1.0625: within
    expect(recommendReplicas(4, 9, 2, 1, 0.1)).toBe(5); // ratio 1.125: outside
    expect(recommendReplicas(4, 0, 2, 1, 0.1)).toBe(0);
  });

  it('limits a scale-up to +100 % or +4 pods per 15 s, whichever is more (HPA defaults)', () => {
    expect(scaleUpLimit(1, [], 0, HPA_SCALE_UP)).toBe(5); // max(2, 1 + 4)
    expect(scaleUpLimit(10, [], 0, HPA_SCALE_UP)).toBe(20); // max(20, 14)
    expect(scaleUpLimit(5, [{ at: -5000, change: 4 }], 0, HPA_SCALE_UP)).toBe(5); // period started at 1: max(2, 5)
    expect(scaleUpLimit(5, [{ at: -20_000, change: 4 }], 0, HPA_SCALE_UP)).toBe(10); // event outside the period
    expect(scaleUpLimit(3, [], 0, { ...HPA_SCALE_UP, selectPolicy: 'Min' })).toBe(6); // min(6, 7)
    expect(scaleUpLimit(3, [], 0, { ...HPA_SCALE_UP, selectPolicy: 'Disabled' })).toBe(3);
  });

  it('limits a scale-down by its policies; the HPA default allows all the way down', () => {
    expect(scaleDownLimit(8, [], 0, HPA_SCALE_DOWN)).toBe(0);
    const onePodPerMinute = { ...HPA_SCALE_DOWN, policies: [{ type: 'Pods' as const, value: 1, periodSeconds: 60 }] };
    expect(scaleDownLimit(8, [], 0, onePodPerMinute)).toBe(7);
    expect(scaleDownLimit(7, [{ at: -30_000, change: -1 }], 0, onePodPerMinute)).toBe(7);
    expect(scaleDownLimit(8, [], 0, { ...HPA_SCALE_DOWN, selectPolicy: 'Disabled' })).toBe(8);
  });

  it('stabilizes: up to the lowest recommendation of the up window, down to the highest of the down window', () => {
    const history = [
      { at: 0, replicas: 9 },
      { at: 100_000, replicas: 3 },
    ];
    expect(stabilize(9, 2, history, 200_000, HPA_SCALE_UP, HPA_SCALE_DOWN)).toBe(9);
    expect(stabilize(9, 2, history, 301_000, HPA_SCALE_UP, HPA_SCALE_DOWN)).toBe(3);
    expect(
      stabilize(2, 6, history, 200_000, { ...HPA_SCALE_UP, stabilizationWindowSeconds: 150 }, HPA_SCALE_DOWN),
    ).toBe(3);
  });
});

describe('pool decisions in simulated time', () => {
  it('burst: comes back from zero at once, grows by the policies, stops at max', () => {
    const d = run(pool(), [
      { at: 0, load: {} },
      { at: 15, load: pending(100) },
      { at: 30, load: pending(100) },
      { at: 45, load: pending(100) },
      { at: 60, load: pending(100) },
    ]);
    expect(d.map((x) => x.desired)).toEqual([0, 4, 8, 10, 10]);
    expect(d[1]?.reason).toContain('scale from zero: 100 pending job(s)');
    expect(d[1]?.reason).toContain('limited to 4 by the scale-up policy');
    expect(d[3]?.reason).toContain('at max 10');
    expect(d[1]?.lastScaleAt).toBe(15_000);
    expect(d[4]?.lastScaleAt).toBe(45_000);
  });

  it('one pending job wakes a pool at zero with one agent', () => {
    const d = run(pool(), [{ at: 0, load: pending(1) }]);
    expect(d[0]?.desired).toBe(1);
  });

  it('steady: a load within the tolerance of the target changes nothing', () => {
    // 5 agents × 2 slots at target 0.8 carry 8 slots; 7.5–8.7 of load stays within 10 %.
    const loads = [8, 8.5, 7.5, 8.6, 8];
    const steps = loads.map((running, i) => ({ at: i * 15, load: { agents: 5, runningUnits: running } }));
    const d = run(pool({ min: 5 }), steps);
    expect(d.map((x) => x.desired)).toEqual([5, 5, 5, 5, 5]);
  });

  it('drain: scales down only after the 300 s window, in one step (HPA default policy)', () => {
    const busy = every(0, 60, 15, { runningUnits: 16 }); // 16 / 1.6 = 10 agents
    const idleButActive = every(75, 420, 15, { runningUnits: 3 }); // wants 2
    const d = run(pool({ min: 1 }), [...busy, ...idleButActive]);
    const at = (s: number) => d[[...busy, ...idleButActive].findIndex((x) => x.at === s)]?.desired;
    expect(at(60)).toBe(10);
    expect(at(345)).toBe(10); // the 60 s recommendation of 10 is still in the window
    expect(at(375)).toBe(2);
    expect(d.find((x) => x.desired === 10 && x.reason.includes('scale-down window'))).toBeDefined();
  });

  it('flapping load is suppressed: a load that swings every sync holds the highest of the window', () => {
    const steps = Array.from({ length: 20 }, (_, i) => ({ at: i * 15, load: { runningUnits: i % 2 === 0 ? 16 : 2 } }));
    const d = run(pool({ min: 1 }), steps).map((x) => x.desired);
    // Up as fast as the policy allows (1 → 5 → 10), never down while a 10 is within 300 s.
    expect(d).toEqual([5, 5, ...Array.from({ length: 18 }, () => 10)]);
  });

  it('scale to zero: only after the cooldown with nothing pending or running', () => {
    const p = pool({ cooldownSeconds: 20 });
    const d = run(p, [
      { at: 0, load: pending(3) },
      { at: 5, load: { runningUnits: 3 } },
      { at: 10, load: {} }, // idle from here: the cooldown counts from the last busy sync (5 s)
      { at: 20, load: {} },
      { at: 24, load: {} },
      { at: 25, load: {} },
      { at: 40, load: {} },
    ]);
    expect(d.map((x) => x.desired)).toEqual([2, 2, 2, 2, 2, 0, 0]);
    expect(d[4]?.reason).toContain('zero after the cooldown (1 s left)');
    expect(d[5]?.reason).toContain('idle for 20 s (cooldown): scale to zero');
    expect(d[6]?.reason).toBe('idle: no pending or running jobs');
  });

  it('cooldown restarts when work arrives during it', () => {
    const d = run(pool({ cooldownSeconds: 20 }), [
      { at: 0, load: pending(1) },
      { at: 10, load: {} },
      { at: 25, load: pending(1) },
      { at: 40, load: {} },
      { at: 44, load: {} },
      { at: 45, load: {} },
    ]);
    // Without the restart it would be at zero from 40 s (40 s after the first work).
    expect(d.map((x) => x.desired)).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it('a pool with min ≥ 1 never goes to zero, and a GPU pool counts GPUs', () => {
    const d = run(pool({ min: 2, cooldownSeconds: 0 }), every(0, 60, 15, {}));
    expect(d.every((x) => x.desired === 2)).toBe(true);
    const gpu = pool({ slotsPerAgent: undefined, gpusPerAgent: 8, targetUtilization: 1 });
    const g = run(gpu, [{ at: 0, load: { pendingJobs: 3, pendingUnits: 24 } }]);
    expect(g[0]).toMatchObject({ desired: 3, unit: 'gpus', load: 24 });
  });

  it('a new scaler starts from the agents connected, and does not drop idle ones before the cooldown', () => {
    const p = pool({ cooldownSeconds: 30 });
    let memory = emptyPoolMemory();
    const first = decidePool(p, { agents: 3, pendingJobs: 0, pendingUnits: 0, runningUnits: 0 }, memory, 1000, 0.1);
    memory = first.memory;
    expect(first.decision.desired).toBe(1); // down to 1 (the HPA's floor) while cooling down
    const later = decidePool(p, { agents: 1, pendingJobs: 0, pendingUnits: 0, runningUnits: 0 }, memory, 31_000, 0.1);
    expect(later.decision.desired).toBe(0);
  });
});

describe('drain choice', () => {
  it('drains idle agents only, newest first, and says how many busy ones it kept', () => {
    const agents = [
      { id: 'a', busy: true, connectedAt: 1 },
      { id: 'b', busy: false, connectedAt: 2 },
      { id: 'c', busy: false, connectedAt: 3 },
      { id: 'd', busy: true, connectedAt: 4 },
    ];
    expect(chooseDrain(agents, 2)).toEqual({ drain: ['c', 'b'], busyKept: 0 });
    expect(chooseDrain(agents, 3)).toEqual({ drain: ['c'], busyKept: 0 });
    expect(chooseDrain(agents, 0)).toEqual({ drain: ['c', 'b'], busyKept: 2 });
    expect(chooseDrain(agents, 4)).toEqual({ drain: [], busyKept: 0 });
  });
});
