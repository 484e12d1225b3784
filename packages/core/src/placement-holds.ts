import type { Resources } from './job.js';
import type { AgentState, Release, Reservation } from './placement-fleet.js';

/**
 * What a placement pass needs to hold agents for blocked jobs: which agent to hold, when the
 * held job can start there (its shadow time) and what the agent can lend meanwhile.
 */

/** The agent's finite releases by time: the caller's, then this pass's placements with a limit. */
export function releasesOf(agent: AgentState): Release[] {
  if (agent.releases) return agent.releases;
  const list: Release[] = [];
  for (const x of agent.source.releases ?? []) {
    if (!Number.isFinite(x.atMs)) continue;
    list.push({ atMs: x.atMs, slots: x.slots, cpu: x.cpu ?? 0, memoryMb: x.memoryMb ?? 0, gpus: x.gpus });
  }
  list.sort((a, b) => a.atMs - b.atMs);
  return (agent.releases = list);
}

/**
 * The shadow time (the earliest instant by which the agent's free room plus what its running
 * jobs release at the latest covers `r`; Infinity when the known releases never do, or without
 * a `now`) and what the agent has beyond `r` then. With an unknown shadow, nothing to spare: a
 * pass cannot tell the jobs that took spare room in earlier passes from those the agent is
 * draining of, so lending more each pass could keep it from ever draining.
 */
export function shadowAndSpare(agent: AgentState, r: Resources, now: number | null): [number, Resources] {
  const unknown = (): [number, Resources] => [Infinity, { slots: 0, cpu: 0, memoryMb: 0, gpus: 0 }];
  if (now === null) return unknown();
  let slots = agent.freeSlots;
  let cpu = agent.freeCpu;
  let memoryMb = agent.freeMemoryMb;
  let gpus = agent.freeGpus.length;
  const fits = () => slots >= r.slots && cpu >= r.cpu && memoryMb >= r.memoryMb && gpus >= r.gpus;
  let at = fits() ? now : Infinity;
  if (at === Infinity) {
    const list = releasesOf(agent);
    for (let i = 0; i < list.length; i++) {
      const x = list[i]!;
      slots += x.slots;
      cpu += x.cpu;
      memoryMb += x.memoryMb;
      gpus = Math.min(agent.gpuCapacity, gpus + x.gpus);
      // Releases at the same instant all count by it.
      if (fits() && list[i + 1]?.atMs !== x.atMs) {
        at = Math.max(now, x.atMs);
        break;
      }
    }
  }
  if (at === Infinity) return unknown();
  return [at, { slots: slots - r.slots, cpu: cpu - r.cpu, memoryMb: memoryMb - r.memoryMb, gpus: gpus - r.gpus }];
}

/** Whether a job of resources `r` fits in what a held agent has to spare past its shadow time. */
export function fitsSpare(held: Reservation, r: Resources): boolean {
  const s = held.spare;
  return r.gpus <= s.gpus && r.slots <= s.slots && r.cpu <= s.cpu && r.memoryMb <= s.memoryMb;
}

/**
 * How many jobs hold the agent's GPUs, at most: each holds at least one GPU and one slot. An
 * agent whose GPUs are held by one big job frees them all at once, with none idle meanwhile.
 */
function gpuHolders(agent: AgentState): number {
  const usedSlots = agent.source.total.slots - agent.freeSlots;
  const usedGpus = agent.gpuCapacity - agent.freeGpus.length;
  return Math.max(0, Math.min(usedSlots, usedGpus));
}

/**
 * The agent to hold for a blocked job: the one whose GPUs are held by the fewest jobs (the
 * fewest that must finish, so the soonest to drain and the least idle while it does), then
 * the one with the most free GPUs, then the lower id. No job takes the GPUs of a held agent,
 * so its rank in this order never worsens while it is held (unless CPU-only jobs spill onto
 * its spare slots and raise the estimate); a job's reservation can then only move to an agent
 * ranked strictly better, finitely often, and the job places. Measured against "most free GPUs
 * first" on the packing traces: a fraction of the idle GPU time and of the waits.
 */
export function closerToFitting(a: AgentState, b: AgentState): boolean {
  const ha = gpuHolders(a);
  const hb = gpuHolders(b);
  if (ha !== hb) return ha < hb;
  return a.freeGpus.length > b.freeGpus.length;
}
