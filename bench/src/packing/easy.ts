import type { Decision, FleetView, Policy } from './simulator.js';

/**
 * Slurm-style first fit with EASY backfill: in priority then submit order, each job on the first
 * agent (by index) with enough free GPUs. The first job that fits nowhere gets a reservation: the
 * agent where it can start soonest, judged by when running jobs end at the latest (start + time
 * limit), and that instant (its shadow time). Later jobs may still start anywhere else, and on the
 * reserved agent only if they end by the shadow time or fit in the GPUs the reserved job leaves
 * spare there. One reservation per pass, as EASY (Slurm's backfill with bf_max_job_test=1).
 *
 * Jobs need time limits (`job.timeLimitS`); a running job without one never ends as far as the
 * plan knows, and a pending one without one never backfills a reserved agent.
 */
export function easyPolicy(): Policy {
  return {
    name: 'easy',
    decide(pending, fleet) {
      const free = fleet.freeGpus.map((f) => [...f]);
      const slots = fleet.agentGpus.map((g, i) => g - fleet.runningJobs[i]!);
      const decisions: Decision[] = [];
      let reserved: { agent: number; shadow: number; spare: number } | null = null;
      for (const job of pending) {
        const endsBy = job.timeLimitS === undefined ? Infinity : fleet.now + job.timeLimitS;
        let agent = -1;
        for (let a = 0; a < free.length; a++) {
          if (free[a]!.length < job.gpus || slots[a]! < 1) continue;
          if (reserved && a === reserved.agent) {
            const inTime = endsBy <= reserved.shadow;
            if (!inTime && job.gpus > reserved.spare) continue;
            if (!inTime) reserved.spare -= job.gpus;
          }
          agent = a;
          break;
        }
        if (agent >= 0) {
          slots[agent]!--;
          decisions.push({ job, agent, gpus: free[agent]!.splice(0, job.gpus) });
        } else if (!reserved) {
          reserved = reserve(job.gpus, fleet, free, decisions, endsByOf(fleet.now));
        }
      }
      return decisions;
    },
  };
}

const endsByOf = (now: number) => (limitS: number | undefined) => (limitS === undefined ? Infinity : now + limitS);

/**
 * The agent where a job of `gpus` GPUs can start soonest, by the latest ends of what runs there
 * (including this pass's decisions), its shadow time, and the GPUs spare there at that time.
 */
function reserve(
  gpus: number,
  fleet: FleetView,
  free: readonly (readonly number[])[],
  decisions: readonly Decision[],
  endsBy: (limitS: number | undefined) => number,
): { agent: number; shadow: number; spare: number } | null {
  let best: { agent: number; shadow: number; spare: number } | null = null;
  for (let a = 0; a < free.length; a++) {
    if (fleet.agentGpus[a]! < gpus) continue;
    const ends = fleet.running[a]!.map((r) => ({
      at: r.job.timeLimitS === undefined ? Infinity : r.start + r.job.timeLimitS,
      gpus: r.job.gpus,
    }));
    for (const d of decisions) if (d.agent === a) ends.push({ at: endsBy(d.job.timeLimitS), gpus: d.job.gpus });
    ends.sort((x, y) => x.at - y.at);
    let have = free[a]!.length;
    let shadow = have >= gpus ? fleet.now : Infinity;
    for (const e of ends) {
      if (shadow !== Infinity) break;
      have += e.gpus;
      if (have >= gpus) shadow = Math.max(fleet.now, e.at);
    }
    if (shadow === Infinity) continue;
    // GPUs free at the shadow time beyond the job's: later jobs may use those past it.
    let atShadow = free[a]!.length;
    for (const e of ends) if (e.at <= shadow) atShadow += e.gpus;
    if (!best || shadow < best.shadow) best = { agent: a, shadow, spare: atShadow - gpus };
  }
  return best;
}
