import { describe, expect, it } from 'vitest';
import { generateTrace, xorshift32 } from '../src/packing/generate.js';
import { makePolicy } from '../src/packing/policies.js';
import type { SimResult } from '../src/packing/simulator.js';
import { simulate } from '../src/packing/simulator.js';
import { suiteTraces, traceFor } from '../src/packing/suite.js';
import type { Trace } from '../src/packing/trace.js';
import { makeFleet, parseTrace } from '../src/packing/trace.js';

/** Every fleet shape and job mix of the suite, once each. */
const shapes = [...new Map(suiteTraces().map((t) => [JSON.stringify(t.spec.fleet), t.spec])).values()];

/** What must hold whatever the policy's quality: each job once, whole, never on a busy or missing GPU. */
function checkRun(trace: Trace, result: SimResult): void {
  const { agentGpus } = trace.fleet;
  expect(result.records).toHaveLength(trace.jobs.length);
  const byAgent = agentGpus.map(() => [] as { t: number; d: number; gpus: number[] }[]);
  for (const [seq, r] of result.records.entries()) {
    expect(r.job.seq).toBe(seq);
    expect(r.start).toBeGreaterThanOrEqual(r.job.submitAt);
    expect(r.finish - r.start).toBeCloseTo(r.job.durationS, 6);
    expect(r.gpus).toHaveLength(r.job.gpus);
    for (const g of r.gpus) expect(g >= 0 && g < agentGpus[r.agent]!, `GPU ${g} of agent ${r.agent}`).toBe(true);
    byAgent[r.agent]!.push({ t: r.start, d: 1, gpus: r.gpus }, { t: r.finish, d: -1, gpus: r.gpus });
  }
  byAgent.forEach((events, agent) => {
    events.sort((a, b) => a.t - b.t || a.d - b.d);
    const busy = new Set<number>();
    for (const e of events) {
      for (const g of e.gpus) {
        if (e.d > 0) {
          expect(busy.has(g), `agent ${agent} GPU ${g} given twice at t=${e.t}`).toBe(false);
          busy.add(g);
        } else busy.delete(g);
      }
      expect(busy.size).toBeLessThanOrEqual(agentGpus[agent]!);
    }
  });
}

describe('place() on every fleet shape of the suite, randomized', () => {
  for (const spec of shapes) {
    const fleet = spec.fleet.map((g) => `${g.agents}x${g.gpusPerAgent}`).join('+');
    it(`${fleet}: no GPU given twice, no agent over capacity, every job runs, under each condition`, () => {
      for (let seed = 1; seed <= 3; seed++) {
        for (const mode of ['batch', 'online'] as const) {
          const text = generateTrace({ ...spec, seed: 7000 + seed, jobs: 250, mode, load: 0.97, taskClasses: 6 });
          for (const condition of ['none', 'x2', 'learned'] as const) {
            for (const ignorePriority of [true, false]) {
              const trace = traceFor(text, `${fleet}-${mode}-${seed}`, ignorePriority, condition);
              const estimates = condition === 'none' ? 'none' : condition === 'x2' ? 'limits' : 'learned';
              checkRun(trace, simulate(trace, makePolicy('baton', {}, estimates)));
            }
          }
        }
      }
    });
  }
});

describe('reservations never starve a large job, on every fleet shape of the suite', () => {
  /**
   * Every agent starts full of 1-GPU jobs of staggered lengths; a job of the largest size comes
   * at t=1, then 1-GPU jobs arrive for 8 000 s at 1.3× what the fleet can run. Without
   * reservations some agent's GPUs are always taken by the stream before they all come free.
   */
  function stream(groups: readonly { agents: number; gpusPerAgent: number }[], seed: number): string {
    const fleet = makeFleet(groups);
    const rand = xorshift32(seed);
    const jobs: object[] = [];
    const small = (submitAt: number) => ({ submitAt, gpus: 1, durationS: 100 + Math.round(rand() * 900) });
    for (let i = 0; i < fleet.totalGpus; i++) jobs.push(small(0));
    jobs.push({ submitAt: 1, gpus: fleet.maxGpus, durationS: 500, big: true });
    const rate = (1.3 * fleet.totalGpus) / 550; // mean small duration 550 s
    for (let t = 2; t < 8_000; t += -Math.log(rand() + 1e-12) / rate) jobs.push(small(Math.round(t * 1000) / 1000));
    const header = { fleet: groups.length === 1 ? groups[0] : { groups }, mode: 'online' };
    const lines = jobs.map((j, i) => ({
      id: (j as { big?: boolean }).big ? 'big' : `s${i}`,
      priority: 'normal',
      user: 'u',
      ...j,
    }));
    return [header, ...lines].map((l) => JSON.stringify(l)).join('\n');
  }

  for (const spec of shapes) {
    const label = spec.fleet.map((g) => `${g.agents}x${g.gpusPerAgent}`).join('+');
    it(`${label}: the ${makeFleet(spec.fleet).maxGpus}-GPU job starts long before the stream ends`, () => {
      const text = stream(spec.fleet, 99);
      const startOfBig = (policy: 'baton' | 'best-fit') => {
        const result = simulate(parseTrace(text, `${label}.jsonl`), makePolicy(policy));
        return result.records.find((r) => r.job.traceId === 'big')!.start;
      };
      // Held for it, the agent drains once its jobs end (each ≤ 1 000 s).
      expect(startOfBig('baton')).toBeLessThan(2_000);
      // The test can fail: plain best fit keeps giving the GPUs to the stream past that bound.
      expect(startOfBig('best-fit')).toBeGreaterThan(2_000);
    });
  }
});
