import type { AgentCapacity, JobAssignment, Placement, PriorityClass } from '@baton/core';
import type { Offer, Store } from '@baton/store';
import type { AgentSession } from './agent-session.js';

/**
 * Admits placements for this server's agents — from its own scheduler or offered by another
 * server's — as far as each agent still has room (checked here, where the agents' use is
 * known exactly), and assigns them in the store. A placement that no longer fits is dropped:
 * its job stays queued for the next pass. The caller hands the assignments over ({@link dispatch}).
 */
export async function admit(
  store: Store,
  sessions: ReadonlyMap<string, AgentSession>,
  offers: readonly Offer[],
  leaseMs: number,
): Promise<{ assignments: JobAssignment[]; accepted: number }> {
  const accepted: Placement[] = [];
  // Each agent's room is worked out once per batch, then taken from as offers are accepted.
  const room = new Map<AgentSession, AgentCapacity & { freeGpus: number[] }>();
  for (const offer of offers) {
    const session = sessions.get(offer.agentId);
    if (!session?.schedulable) continue;
    // Already held here: a second offer of a job being admitted (a scheduler may offer a job
    // again before the first admission's assign has answered) or running. Admitting it again
    // would release the first admission's hold when this one's assign finds the job taken.
    if (session.held.has(offer.jobId)) continue;
    let free = room.get(session);
    if (!free) {
      const c = session.capacity();
      room.set(session, (free = { ...c, freeGpus: [...c.freeGpus] }));
    }
    const r = offer.resources;
    if (free.freeSlots < r.slots || free.freeCpu < r.cpu || free.freeMemoryMb < r.memoryMb) continue;
    // The GPUs offered, if still free; otherwise any free ones (the offer may be stale).
    const gpus =
      r.gpus === 0
        ? []
        : offer.gpus.every((i) => free.freeGpus.includes(i))
          ? offer.gpus
          : free.freeGpus.slice(0, r.gpus);
    if (gpus.length < r.gpus) continue;
    free.freeSlots -= r.slots;
    free.freeCpu -= r.cpu;
    free.freeMemoryMb -= r.memoryMb;
    if (gpus.length > 0) free.freeGpus = free.freeGpus.filter((i) => !gpus.includes(i));
    // Held at once, so an admission running meanwhile sees the room as taken.
    session.hold(offer.jobId, { leaseToken: '', resources: r, gpus, endsBy: Infinity });
    accepted.push({ jobId: offer.jobId, agentId: offer.agentId, gpus });
  }
  if (accepted.length === 0) return { assignments: [], accepted: 0 };
  try {
    return { assignments: await store.assign(accepted, leaseMs), accepted: accepted.length };
  } finally {
    for (const p of accepted) sessions.get(p.agentId)?.release(p.jobId);
  }
}

/** What offers say about their jobs beyond the placement, kept with each job on its agent. */
export interface OfferedHints {
  /** Each job's priority class, where the offer gave it. */
  priorities: Map<string, PriorityClass>;
  /** The learned runtime (ms) of each job without a timeout whose class has one. */
  expectedRuntimes: Map<string, number>;
}

export function hintsOf(offers: readonly Offer[]): OfferedHints {
  const hints: OfferedHints = { priorities: new Map(), expectedRuntimes: new Map() };
  for (const offer of offers) {
    if (offer.priority !== undefined) hints.priorities.set(offer.jobId, offer.priority);
    const expected = offer.expectedRuntimeMs;
    if (typeof expected === 'number' && Number.isFinite(expected) && expected >= 0)
      hints.expectedRuntimes.set(offer.jobId, expected);
  }
  return hints;
}

/**
 * Hands assignments to their agents, holding what each job takes, with its priority class
 * when known (preemption stops only jobs whose class it knows). A job's end bound is its
 * timeout; without one, its learned runtime where the offer carried it (so the agent's
 * `releases` plan with it; the agent is never told: the job runs as long as it runs). An
 * assignment for a departed agent is left to lease expiry. Returns whether any agent got work.
 */
export function dispatch(
  sessions: ReadonlyMap<string, AgentSession>,
  assignments: JobAssignment[],
  hints: Partial<OfferedHints> = {},
): boolean {
  const priorities = hints.priorities;
  const expected = hints.expectedRuntimes;
  const now = Date.now();
  const byAgent = new Map<AgentSession, JobAssignment[]>();
  for (const a of assignments) {
    const session = sessions.get(a.job.agentId);
    if (!session?.inbox) continue;
    session.leasesRenewedAt = now;
    session.hold(a.job.id, {
      leaseToken: a.leaseToken,
      resources: a.job.resources,
      gpus: a.job.gpus,
      endsBy: now + (a.job.timeoutMs ?? expected?.get(a.job.id) ?? Infinity),
      estimated: a.job.timeoutMs === null && expected?.get(a.job.id) !== undefined,
      priority: priorities?.get(a.job.id) ?? null,
      owner: a.job.owner,
      task: a.job.task,
      queue: a.job.queue,
      startedAt: now,
    });
    let list = byAgent.get(session);
    if (!list) byAgent.set(session, (list = []));
    list.push(a);
  }
  for (const [session, list] of byAgent) session.inbox?.deliver(list);
  return byAgent.size > 0;
}
