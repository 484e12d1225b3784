import { PRIORITY_CLASSES } from '@baton/core';
import type { AgentSession } from './agent-session.js';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
/** Undeclared cpu/memory are unlimited inside the server; JSON says null. */
const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** The public JSON of an agent (`GET /api/agents`). */
export function agentJson(s: AgentSession): Record<string, unknown> {
  const d = s.declaration;
  return {
    id: s.id,
    name: d.name,
    pool: d.pool,
    state: s.state,
    queues: d.queues,
    tasks: [...d.tasks].sort(),
    tags: d.tags,
    slots: d.slots,
    used: s.slotsUsed,
    cpu: finite(d.cpu),
    memoryMb: finite(d.memoryMb),
    // The classes it takes (every one unless dedicated), and how preemption treats its jobs.
    priorities: d.priorities ?? [...PRIORITY_CLASSES],
    preemptible: d.preemptible,
    minRuntimeMs: d.minRuntimeMs,
    preemptGraceMs: d.preemptGraceMs,
    gpus: [...s.gpus.values()].map((g) => ({
      index: g.index,
      uuid: g.uuid,
      name: g.name,
      memoryMb: g.memoryMb,
      healthy: g.healthy,
      ...(g.reason !== undefined && { reason: g.reason }),
      jobId: s.gpuHolder(g.index) ?? null,
    })),
    jobs: [...s.held.keys()],
    // Jobs that ended while their handler runs on: their slots and GPUs stay taken until it returns.
    lingering: s.lingering.map((j) => ({ jobId: j.jobId, slots: j.slots, gpus: j.gpus, since: iso(j.since) })),
    connectedAt: iso(s.connectedAt),
    lastSeenAt: iso(s.lastSeenAt),
    disconnectedAt: iso(s.disconnectedAt),
  };
}
