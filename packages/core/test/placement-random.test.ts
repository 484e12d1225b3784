import { describe, expect, it } from 'vitest';
import type { AgentCapacity, PendingJob, Resources } from '@baton/core';
import { comparePending, place } from '@baton/core';
import type { AgentInit } from './placement-fixtures.js';
import { cpuAgent, gpuAgent, job, random } from './placement-fixtures.js';

describe('place on random fleets', () => {
  const queues = ['a', 'b'];
  const tasks = ['t1', 't2'];
  const tagPool = ['x', 'y'];

  function randomCase(rand: (n: number) => number): { agents: AgentCapacity[]; jobs: PendingJob[] } {
    const agents = Array.from({ length: 1 + rand(12) }, (_, i) => {
      const init: AgentInit = {
        queues: queues.filter(() => rand(3) > 0),
        tasks: tasks.filter(() => rand(3) > 0),
        tags: tagPool.filter(() => rand(2) === 0),
        freeCpu: rand(9),
        freeMemoryMb: 1024 * rand(9),
      };
      if (rand(2) === 0) return cpuAgent(`ag${i}`, rand(6), init);
      const count = [2, 4, 8][rand(3)]!;
      const freeGpus = Array.from({ length: count }, (_, g) => g).filter(() => rand(3) > 0);
      const slots = count + rand(8);
      return gpuAgent(`ag${i}`, freeGpus, {
        ...init,
        count,
        freeSlots: Math.max(0, slots - (count - freeGpus.length) - rand(2)),
        total: { slots },
      });
    });
    const jobs = Array.from({ length: rand(50) }, (_, i) =>
      job(String(i).padStart(4, '0'), {
        queue: queues[rand(2)]!,
        task: tasks[rand(2)]!,
        priority: (['high', 'normal', 'low'] as const)[rand(3)]!,
        tags: rand(4) === 0 ? [tagPool[rand(2)]!] : [],
        avoidAgentId: rand(5) === 0 ? `ag${rand(4)}` : null,
        resources: { slots: 1 + rand(2), cpu: rand(3), memoryMb: 512 * rand(3), gpus: rand(2) === 0 ? 0 : 1 + rand(4) },
      }),
    );
    return { agents, jobs };
  }

  const eligible = (a: AgentCapacity, j: PendingJob) =>
    a.queues.includes(j.queue) && a.tasks.has(j.task) && j.constraints.tags.every((t) => a.tags.includes(t));

  for (const policy of ['larger', 'none'] as const) {
    it(`never over-allocates and answers for every job (reservations: ${policy})`, () => {
      const rand = random(42);
      const seen = { placed: 0, held: 0, reserved: 0, cpuOnGpuAgent: 0 };
      for (let round = 0; round < 300; round++) {
        const { agents, jobs } = randomCase(rand);
        const result = place(jobs, agents, { reservations: policy });
        const byId = new Map(jobs.map((j) => [j.id, j]));
        const placedIds = result.placements.map((p) => p.jobId);
        expect(new Set(placedIds).size).toBe(placedIds.length);
        for (const j of jobs) expect(result.pending.has(j.id)).toBe(!placedIds.includes(j.id));

        const state = new Map(
          agents.map((a) => [
            a.id,
            { slots: a.freeSlots, cpu: a.freeCpu, mem: a.freeMemoryMb, gpus: new Set(a.freeGpus) },
          ]),
        );
        const decisions = new Map(result.placements.map((p) => [p.jobId, p]));
        // Agents held for blocked jobs, from their reasons: no later job takes GPUs there.
        const heldBy = new Map<string, PendingJob>();
        for (const [id, reason] of result.pending) {
          const held = /agent (\S+) is held for it/.exec(reason.message)?.[1];
          if (held) {
            seen.held++;
            expect(heldBy.has(held), `${held} held twice`).toBe(false);
            heldBy.set(held, byId.get(id)!);
          }
        }
        for (const p of result.placements) {
          const holder = heldBy.get(p.agentId);
          if (holder && p.gpus.length > 0) expect(comparePending(byId.get(p.jobId)!, holder)).toBeLessThan(0);
        }
        // Replay in priority order, checking each decision against what was free at its turn.
        for (const j of [...jobs].sort(comparePending)) {
          const r = j.resources;
          const fitsNow = (a: AgentCapacity) => {
            const s = state.get(a.id)!;
            const fit =
              eligible(a, j) && s.slots >= r.slots && s.cpu >= r.cpu && s.mem >= r.memoryMb && s.gpus.size >= r.gpus;
            // CPU-only work on a GPU agent must leave a slot per free GPU, unless no GPU-less
            // agent is eligible for it at all.
            const gpuOnly = agents.every((x) => !eligible(x, j) || x.gpuCount > 0);
            return fit && (r.gpus > 0 || a.gpuCount === 0 || gpuOnly || s.slots - r.slots >= s.gpus.size);
          };
          const p = decisions.get(j.id);
          if (!p) {
            if (policy === 'none') expect(agents.filter(fitsNow), `job ${j.id} skipped although it fit`).toEqual([]);
            continue;
          }
          const a = agents.find((x) => x.id === p.agentId)!;
          expect(fitsNow(a), `job ${j.id} placed on ${a.id} where it does not fit`).toBe(true);
          const others = agents.filter((x) => x.id !== a.id && x.id !== j.avoidAgentId && fitsNow(x));
          const s = state.get(a.id)!;
          seen.placed++;
          if (r.gpus === 0 && a.gpuCount > 0) seen.cpuOnGpuAgent++;
          expect(p.gpus).toHaveLength(r.gpus);
          for (const g of p.gpus) {
            expect(s.gpus.has(g), `GPU ${g} of ${a.id} given twice or never free`).toBe(true);
            s.gpus.delete(g);
          }
          if (policy === 'none') {
            if (a.id === j.avoidAgentId) expect(others).toEqual([]);
            if (r.gpus > 0 && a.id !== j.avoidAgentId) {
              // Best fit: no other candidate would be left with fewer free GPUs.
              const left = state.get(a.id)!.gpus.size;
              for (const o of others) expect(state.get(o.id)!.gpus.size - r.gpus).toBeGreaterThanOrEqual(left);
            }
            if (r.gpus === 0 && a.gpuCount > 0) {
              expect(others.filter((o) => o.gpuCount === 0)).toEqual([]);
            }
          }
          s.slots -= r.slots;
          s.cpu -= r.cpu;
          s.mem -= r.memoryMb;
          expect(s.slots).toBeGreaterThanOrEqual(0);
          expect(s.cpu).toBeGreaterThanOrEqual(0);
          expect(s.mem).toBeGreaterThanOrEqual(0);
        }
        for (const [id, reason] of result.pending) {
          const j = byId.get(id)!;
          if (reason.code === 'RESERVED_FOR_LARGER_JOB') seen.reserved++;
          if (reason.code === 'NO_AGENT_FOR_QUEUE') expect(agents.some((a) => a.queues.includes(j.queue))).toBe(false);
          if (reason.code === 'RESOURCES_EXCEED_AGENTS' || reason.code.startsWith('NO_AGENT')) {
            expect(agents.some((a) => eligible(a, j) && fitsIdle(a, j.resources))).toBe(false);
          }
        }
      }
      // The cases exercise what they claim to.
      expect(seen.placed).toBeGreaterThan(1000);
      expect(seen.cpuOnGpuAgent).toBeGreaterThan(10);
      if (policy === 'none') expect(seen.held + seen.reserved).toBe(0);
      else expect(Math.min(seen.held, seen.reserved)).toBeGreaterThan(10);
    });
  }

  it('with random time limits and releases: never over-allocates, and lends held room only to jobs done in time or out of what the holder leaves spare', () => {
    const rand = random(4242);
    const now = 50_000;
    const seen = { placed: 0, held: 0, backfilled: 0, spared: 0, refused: 0 };
    for (let round = 0; round < 400; round++) {
      const base = randomCase(rand);
      // Each GPU agent's used GPUs come back in random parts, some at a known time, some never.
      const agents = base.agents.map((a) => {
        if (a.gpuCount === 0 || rand(4) === 0) return a;
        let used = a.gpuCount - a.freeGpus.length;
        const releases = [];
        while (used > 0) {
          const gpus = 1 + rand(used);
          used -= gpus;
          releases.push({ atMs: rand(5) === 0 ? Infinity : now - 100 + rand(2000), slots: 1, gpus, cpu: rand(2) });
        }
        return { ...a, releases };
      });
      const jobs = base.jobs.map((j) => (rand(4) === 0 ? j : { ...j, timeLimitMs: rand(3000) }));
      const result = place(jobs, agents, { now });
      const byId = new Map(jobs.map((j) => [j.id, j]));
      const placedIds = result.placements.map((p) => p.jobId);
      expect(new Set(placedIds).size).toBe(placedIds.length);
      for (const j of jobs) expect(result.pending.has(j.id)).toBe(!placedIds.includes(j.id));
      const heldBy = new Map<string, PendingJob>();
      for (const [id, reason] of result.pending) {
        const held = /agent (\S+) is held for it/.exec(reason.message)?.[1];
        if (held) {
          expect(heldBy.has(held), `${held} held twice`).toBe(false);
          heldBy.set(held, byId.get(id)!);
        }
      }
      seen.held += heldBy.size;
      const state = new Map(
        agents.map((a) => [
          a.id,
          {
            slots: a.freeSlots,
            cpu: a.freeCpu,
            mem: a.freeMemoryMb,
            gpus: new Set(a.freeGpus),
            placed: [] as PendingJob[],
          },
        ]),
      );
      const decisions = new Map(result.placements.map((p) => [p.jobId, p]));
      /** Shadow time of each held agent, replayed independently at its holder's turn. */
      const shadowOf = new Map<string, number>();
      for (const j of [...jobs].sort(comparePending)) {
        const r = j.resources;
        const p = decisions.get(j.id);
        const holdsAgent = [...heldBy].find(([, h]) => h === j)?.[0];
        if (holdsAgent !== undefined) {
          const a = agents.find((x) => x.id === holdsAgent)!;
          const s = state.get(a.id)!;
          const releases = [
            ...(a.releases ?? []),
            ...s.placed
              .filter((x) => x.timeLimitMs != null)
              .map((x) => ({ atMs: now + x.timeLimitMs!, ...x.resources })),
          ]
            .filter((x) => Number.isFinite(x.atMs))
            .sort((x, y) => x.atMs - y.atMs);
          let [slots, cpu, mem, gpus] = [s.slots, s.cpu, s.mem, s.gpus.size];
          const cap = Math.min(a.total.gpus, a.gpuCount);
          const fits = () => slots >= r.slots && cpu >= r.cpu && mem >= r.memoryMb && gpus >= r.gpus;
          let shadow = fits() ? now : Infinity;
          for (const x of releases) {
            if (shadow !== Infinity) break;
            slots += x.slots;
            cpu += x.cpu ?? 0;
            mem += x.memoryMb ?? 0;
            gpus = Math.min(cap, gpus + x.gpus);
            if (fits()) shadow = Math.max(now, x.atMs);
          }
          shadowOf.set(a.id, shadow);
        }
        if (!p) continue;
        const a = agents.find((x) => x.id === p.agentId)!;
        expect(eligible(a, j)).toBe(true);
        const s = state.get(a.id)!;
        seen.placed++;
        expect(p.gpus).toHaveLength(r.gpus);
        for (const g of p.gpus) {
          expect(s.gpus.has(g), `GPU ${g} of ${a.id} given twice or never free`).toBe(true);
          s.gpus.delete(g);
        }
        s.slots -= r.slots;
        s.cpu -= r.cpu;
        s.mem -= r.memoryMb;
        s.placed.push(j);
        expect(Math.min(s.slots, s.cpu, s.mem)).toBeGreaterThanOrEqual(0);
        const holder = heldBy.get(a.id);
        if (!holder || comparePending(j, holder) < 0) continue;
        // After the holder's turn: GPUs of a held agent, or room the holder needs, only for a
        // job whose limit ends by the shadow time.
        const hr = holder.resources;
        const intrudes = r.gpus > 0 || s.slots < hr.slots || s.cpu < hr.cpu || s.mem < hr.memoryMb;
        if (!intrudes) continue;
        const shadow = shadowOf.get(a.id)!;
        if (j.timeLimitMs != null && now + j.timeLimitMs <= shadow) {
          seen.backfilled++;
        } else {
          // Spare room exists only past a known shadow time.
          expect(shadow, `job ${j.id} without a limit on ${a.id}, held with no known shadow`).toBeLessThan(Infinity);
          seen.spared++;
        }
      }
      // The real promise: at its shadow time each holder fits, whatever was lent meanwhile (to
      // jobs done by then, or out of what the agent has beyond the holder's need then).
      for (const [agentId, holder] of heldBy) {
        const shadow = shadowOf.get(agentId)!;
        if (shadow === Infinity) continue;
        const a = agents.find((x) => x.id === agentId)!;
        const s = state.get(agentId)!;
        let [slots, cpu, mem, gpus] = [s.slots, s.cpu, s.mem, s.gpus.size];
        for (const x of a.releases ?? []) {
          if (x.atMs > shadow) continue;
          slots += x.slots;
          cpu += x.cpu ?? 0;
          mem += x.memoryMb ?? 0;
          gpus += x.gpus;
        }
        for (const x of s.placed) {
          if (x.timeLimitMs == null || now + x.timeLimitMs > shadow) continue;
          slots += x.resources.slots;
          cpu += x.resources.cpu;
          mem += x.resources.memoryMb;
          gpus += x.resources.gpus;
        }
        const hr = holder.resources;
        gpus = Math.min(gpus, Math.min(a.total.gpus, a.gpuCount));
        expect(
          slots >= hr.slots && cpu >= hr.cpu && mem >= hr.memoryMb && gpus >= hr.gpus,
          `${holder.id} does not fit ${agentId} at its shadow time`,
        ).toBe(true);
      }
      for (const [id, reason] of result.pending) {
        if (reason.code === 'RESERVED_FOR_LARGER_JOB' && byId.get(id)!.timeLimitMs != null) seen.refused++;
      }
    }
    expect(seen.placed).toBeGreaterThan(1000);
    expect(seen.held).toBeGreaterThan(50);
    expect(seen.backfilled).toBeGreaterThan(20);
    expect(seen.spared).toBeGreaterThan(5);
    expect(seen.refused).toBeGreaterThan(20);
  });
});

/** A seeded xorshift32: `rand(n)` is an integer in [0, n). */

function fitsIdle(a: AgentCapacity, r: Resources): boolean {
  const gpus = Math.min(a.total.gpus, a.gpuCount);
  const slots = r.gpus === 0 && a.gpuCount > 0 ? a.total.slots - gpus : a.total.slots;
  return slots >= r.slots && a.total.cpu >= r.cpu && a.total.memoryMb >= r.memoryMb && gpus >= r.gpus;
}
