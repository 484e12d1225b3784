import type { Resources } from './job.js';
import type { AgentCapacity, PendingJob, PendingReason, Placement, PlacementResult } from './placement-types.js';
import type { AgentState, Capacity, Reservation } from './placement-fleet.js';
import type { ReservationPolicy } from './placement.js';
import type { AgentHeap } from './placement-heap.js';
import { agentStates, covers } from './placement-fleet.js';
import type { EligibilityClass } from './placement-fleet.js';
import { EligibilityClasses } from './placement-classes.js';
import * as reasons from './placement-reasons.js';
import { closerToFitting, fitsSpare, releasesOf, shadowAndSpare } from './placement-holds.js';
import { needsAtLeast, rememberFailure, wouldFit } from './placement-shapes.js';

/** One placement pass: the fleet's free capacity as decisions consume it, and the decisions. */
export class PlacementPass {
  private readonly agents: AgentState[];
  /** Free capacity when the pass began, by agent index. */
  private readonly initial: Capacity[];
  private readonly classes: EligibilityClasses;
  private readonly placements: Placement[] = [];
  private readonly pending = new Map<string, PendingReason>();
  /** Heap entries set aside during a search (key, agent, version triples), put back after. */
  private readonly aside: number[] = [];
  /** Agents held this pass, in the order they were. */
  private readonly reservations: Reservation[] = [];
  /** During a search: the first reservation that turned the job away from an agent it fit. */
  private blockedBy: Reservation | null = null;
  /** During a search: the job's avoided agent, if it could take the job. */
  private avoided: AgentState | null = null;
  /** During a search: when the job ends at the latest if started now (epoch ms), or Infinity. */
  private endsBy = Infinity;
  /** Reservations with a known shadow time: the only agents a job with a limit may backfill. */
  private readonly backfillable: Reservation[] = [];
  /** Whether any agent states releases or got a job with a limit this pass (else no shadows). */
  private anyReleases = false;
  /** The pass's time when it is a finite number; null: limits and releases are not used. */
  private readonly now: number | null;

  constructor(
    agents: readonly AgentCapacity[],
    private readonly policy: ReservationPolicy,
    now?: number,
  ) {
    this.now = now !== undefined && Number.isFinite(now) ? now : null;
    this.agents = agentStates(agents);
    if (this.now !== null) this.anyReleases = agents.some((a) => (a.releases?.length ?? 0) > 0);
    this.initial = this.agents.map((a) => [a.freeSlots, a.freeCpu, a.freeMemoryMb, a.freeGpus.length] as const);
    this.classes = new EligibilityClasses(agents, this.agents, (a) => this.initial[a.index]!);
  }

  result(): PlacementResult {
    return { placements: this.placements, pending: this.pending };
  }

  place(job: PendingJob): void {
    const cls = this.classes.of(job);
    if (cls.ineligible) {
      this.pending.set(job.id, cls.ineligible);
      return;
    }
    const r = job.resources;
    const gpuJob = r.gpus > 0;
    this.endsBy = this.endOf(job);
    // A job that ends in time tries the held agents first: only such jobs can use their room.
    if (gpuJob && this.endsBy !== Infinity && this.backfillable.length > 0) {
      const held = this.searchHeld(cls, job);
      if (held) {
        this.commit(held, job);
        return;
      }
    }
    const mayReserve = gpuJob && this.mayReserve(cls, r.gpus);
    const shape = `${r.slots}|${r.cpu}|${r.memoryMb}|${r.gpus}`;
    // Free capacity only shrinks and reservations only grow during a pass, so a shape that
    // failed fails again; skip the search unless this job could still earn a reservation.
    if (!mayReserve) {
      const known = cls.failed.get(shape);
      if (known) {
        this.pending.set(job.id, known);
        return;
      }
      if (needsAtLeast(r, gpuJob ? cls.failedGpu : cls.failedCpu)) {
        const reason = this.waitingReason(cls, r);
        cls.failed.set(shape, reason);
        this.pending.set(job.id, reason);
        return;
      }
    }
    this.blockedBy = null;
    this.avoided = null;
    const agent = gpuJob ? this.searchGpu(cls, job) : this.searchCpu(cls, job);
    if (agent) {
      this.commit(agent, job);
      return;
    }
    rememberFailure(r, gpuJob ? cls.failedGpu : cls.failedCpu);
    const idle = cls.idleFrontier(gpuJob);
    let reason: PendingReason;
    let shared: PendingReason;
    if (!covers(idle, r)) {
      reason = shared = reasons.exceedsAgents(
        r,
        idle,
        cls.agents.every((a) => a.hasGpus),
      );
    } else {
      if (gpuJob) {
        cls.reserveConsidered.add(r.gpus);
        cls.maxReserveConsidered = Math.max(cls.maxReserveConsidered, r.gpus);
      }
      if (this.blockedBy) {
        reason = shared = reasons.reservedForLargerJob(this.blockedBy);
      } else {
        shared = covers(cls.initialFrontier(gpuJob), r)
          ? reasons.behindHigherPriority(r)
          : reasons.waitingForCapacity(r, cls);
        const reservation = mayReserve ? this.reserve(cls, job) : null;
        reason = reservation ? reasons.heldFor(shared, reservation) : shared;
      }
    }
    cls.failed.set(shape, shared);
    this.pending.set(job.id, reason);
  }

  private mayReserve(cls: EligibilityClass, gpus: number): boolean {
    switch (this.policy) {
      case 'larger':
        return gpus > cls.maxReserveConsidered;
      case 'head':
        return cls.reserveConsidered.size === 0;
      case 'per-size':
        return !cls.reserveConsidered.has(gpus);
      case 'none':
        return false;
    }
  }

  /** The reason of a job that needs at least as much as a shape that already failed. */
  private waitingReason(cls: EligibilityClass, r: Resources): PendingReason {
    const gpuJob = r.gpus > 0;
    const idle = cls.idleFrontier(gpuJob);
    if (!covers(idle, r))
      return reasons.exceedsAgents(
        r,
        idle,
        cls.agents.every((a) => a.hasGpus),
      );
    for (const reservation of this.reservations) {
      if (reservation.agent.classes.includes(cls) && wouldFit(reservation.agent, r)) {
        return reasons.reservedForLargerJob(reservation);
      }
    }
    return covers(cls.initialFrontier(gpuJob), r)
      ? reasons.behindHigherPriority(r)
      : reasons.waitingForCapacity(r, cls);
  }

  /**
   * Best fit: the smallest free-GPU bucket holding an agent with the job's slots, CPU and
   * memory free; within a bucket the fewest free slots, then agent id.
   */
  private searchGpu(cls: EligibilityClass, job: PendingJob): AgentState | null {
    const r = job.resources;
    for (let k = r.gpus; k < cls.buckets.length; k++) {
      const heap = cls.buckets[k];
      if (!heap || heap.size === 0) continue;
      let found: AgentState | null = null;
      while (heap.size > 0) {
        const agent = this.agents[heap.topAgent()]!;
        if (heap.topVersion() !== agent.version) {
          heap.pop();
          continue;
        }
        if (agent.freeSlots >= r.slots && agent.freeCpu >= r.cpu && agent.freeMemoryMb >= r.memoryMb) {
          if (agent.reservation) {
            if (fitsSpare(agent.reservation, r)) {
              found = agent;
              break;
            }
            this.blockedBy ??= agent.reservation;
          } else if (agent.id === job.avoidAgentId) this.avoided ??= agent;
          else {
            found = agent;
            break;
          }
        }
        this.setAside(heap);
      }
      this.putBack(heap);
      if (found) return found;
    }
    return this.avoided;
  }

  /**
   * GPU-less agents with the most free slots first; failing those, GPU agents with the most
   * slots to spare beyond one per free GPU, provided they keep that many after the job; and
   * where no GPU-less agent is eligible at all, any free slot of a GPU agent.
   */
  private searchCpu(cls: EligibilityClass, job: PendingJob): AgentState | null {
    return (
      this.searchSpread(cls.cpuAgents, job, false) ??
      this.searchSpread(cls.spareAgents, job, true) ??
      (cls.gpuOnly ? this.searchAnySlot(cls, job) : null) ??
      this.avoided
    );
  }

  /**
   * Whether a CPU-only job of resources `r` would leave a held agent without the slots, CPU or
   * memory its held job needs, and does not end before that job could start there.
   */
  private cutsIntoHold(agent: AgentState, r: PendingJob['resources']): boolean {
    const reservation = agent.reservation;
    if (!reservation) return false;
    const held = reservation.resources;
    return (
      (agent.freeSlots - r.slots < held.slots ||
        agent.freeCpu - r.cpu < held.cpu ||
        agent.freeMemoryMb - r.memoryMb < held.memoryMb) &&
      !this.endsInTime(reservation)
    );
  }

  /** The GPU agent with the most free slots that can take the job (a scan: GPU-only fleets). */
  private searchAnySlot(cls: EligibilityClass, job: PendingJob): AgentState | null {
    const r = job.resources;
    let best: AgentState | null = null;
    for (const agent of cls.agents) {
      if (agent.freeSlots < r.slots || agent.freeCpu < r.cpu || agent.freeMemoryMb < r.memoryMb) continue;
      if (this.cutsIntoHold(agent, r)) {
        this.blockedBy ??= agent.reservation;
        continue;
      }
      if (agent.id === job.avoidAgentId) {
        this.avoided ??= agent;
        continue;
      }
      if (!best || agent.freeSlots > best.freeSlots) best = agent;
    }
    return best;
  }

  private searchSpread(heap: AgentHeap, job: PendingJob, gpuAgents: boolean): AgentState | null {
    const r = job.resources;
    let found: AgentState | null = null;
    while (heap.size > 0) {
      const agent = this.agents[heap.topAgent()]!;
      if (heap.topVersion() !== agent.version) {
        heap.pop();
        continue;
      }
      const usable = gpuAgents ? agent.freeSlots - agent.freeGpus.length : agent.freeSlots;
      // The heap is ordered by usable slots: if the top has too few, every agent has.
      if (usable < r.slots) break;
      if (agent.freeCpu >= r.cpu && agent.freeMemoryMb >= r.memoryMb) {
        if (this.cutsIntoHold(agent, r)) {
          this.blockedBy ??= agent.reservation;
        } else if (agent.id === job.avoidAgentId) {
          this.avoided ??= agent;
        } else {
          found = agent;
          break;
        }
      }
      this.setAside(heap);
    }
    this.putBack(heap);
    return found;
  }

  private setAside(heap: AgentHeap): void {
    this.aside.push(heap.topKey(), heap.topAgent(), heap.topVersion());
    heap.pop();
  }

  private putBack(heap: AgentHeap): void {
    const aside = this.aside;
    for (let i = 0; i < aside.length; i += 3) heap.push(aside[i]!, aside[i + 1]!, aside[i + 2]!);
    aside.length = 0;
  }

  /**
   * EASY backfill: among the held agents of the class whose shadow time the job ends by, the
   * best fit that has the job's room free now (the job's avoided agent is not used here).
   */
  private searchHeld(cls: EligibilityClass, job: PendingJob): AgentState | null {
    const r = job.resources;
    let best: AgentState | null = null;
    for (const reservation of this.backfillable) {
      const agent = reservation.agent;
      if (
        !this.endsInTime(reservation) ||
        agent.freeGpus.length < r.gpus ||
        agent.freeSlots < r.slots ||
        agent.freeCpu < r.cpu ||
        agent.freeMemoryMb < r.memoryMb ||
        agent.id === job.avoidAgentId ||
        !agent.classes.includes(cls)
      )
        continue;
      if (
        !best ||
        agent.freeGpus.length < best.freeGpus.length ||
        (agent.freeGpus.length === best.freeGpus.length &&
          (agent.freeSlots < best.freeSlots || (agent.freeSlots === best.freeSlots && agent.index < best.index)))
      )
        best = agent;
    }
    return best;
  }

  /** When the job ends at the latest if it starts now: Infinity without a limit or a `now`. */
  private endOf(job: PendingJob): number {
    const limit = job.timeLimitMs;
    if (this.now === null || limit === undefined || limit === null || !(limit >= 0)) return Infinity;
    return this.now + limit;
  }

  /** Whether the job being placed ends by the reservation's shadow time (so may backfill it). */
  private endsInTime(reservation: Reservation): boolean {
    return this.endsBy !== Infinity && this.endsBy <= reservation.shadowMs;
  }

  /**
   * Holds the eligible agent where the job can start soonest by the known releases (its shadow
   * time), then the one closest to fitting it (see {@link closerToFitting}).
   */
  private reserve(cls: EligibilityClass, job: PendingJob): Reservation | null {
    const r = job.resources;
    const timed = this.anyReleases;
    let best: AgentState | null = null;
    let bestShadow = Infinity;
    for (const agent of cls.agents) {
      const total = agent.source.total;
      if (
        agent.reservation ||
        agent.gpuCapacity < r.gpus ||
        total.slots < r.slots ||
        total.cpu < r.cpu ||
        total.memoryMb < r.memoryMb
      )
        continue;
      const shadow = timed ? shadowAndSpare(agent, r, this.now)[0] : Infinity;
      if (!best || shadow < bestShadow || (shadow === bestShadow && closerToFitting(agent, best))) {
        best = agent;
        bestShadow = shadow;
      }
    }
    if (!best) return null;
    const spare = shadowAndSpare(best, r, this.now)[1];
    best.reservation = { jobId: job.id, resources: r, agent: best, shadowMs: bestShadow, spare };
    this.reservations.push(best.reservation);
    if (bestShadow !== Infinity) this.backfillable.push(best.reservation);
    return best.reservation;
  }

  private commit(agent: AgentState, job: PendingJob): void {
    const r = job.resources;
    const held = agent.reservation;
    if (held && !this.endsInTime(held)) {
      held.spare.slots -= r.slots;
      held.spare.cpu -= r.cpu;
      held.spare.memoryMb -= r.memoryMb;
      held.spare.gpus -= r.gpus;
    }
    agent.freeSlots -= r.slots;
    agent.freeCpu -= r.cpu;
    agent.freeMemoryMb -= r.memoryMb;
    const gpus = r.gpus > 0 ? agent.freeGpus.splice(0, r.gpus) : [];
    if (this.endsBy !== Infinity) {
      // Its room comes back by endsBy at the latest: later shadow times count on it.
      const list = releasesOf(agent);
      let at = list.length;
      while (at > 0 && list[at - 1]!.atMs > this.endsBy) at--;
      list.splice(at, 0, { atMs: this.endsBy, slots: r.slots, cpu: r.cpu, memoryMb: r.memoryMb, gpus: r.gpus });
      this.anyReleases = true;
    }
    agent.version++;
    for (const cls of agent.classes) cls.index(agent);
    this.placements.push({ jobId: job.id, agentId: agent.id, gpus });
  }
}
