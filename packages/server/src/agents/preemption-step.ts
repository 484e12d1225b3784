import type { AgentCapacity, PendingJob, PendingReason, PlacementResult } from '@baton/core';
import { planPreemptions } from '@baton/core';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';
import type { AgentGateway } from './gateway.js';
import type { JobMetrics } from '../metrics/job-metrics.js';

/** Said to a preempted job (its AbortSignal's reason) and logged. */
export const PREEMPT_REASON = 'preempted for a higher-priority job';

/**
 * The preemption step of a scheduling pass: waiting higher-class jobs the pass could not place
 * may stop lower-class jobs on preemptible agents of the fleet (see `planPreemptions`). Victims
 * are told to stop: by this server for its own agents, through the store (a `preempt` event)
 * by the server of the others. Each goes back to the queue without spending an attempt once its
 * handler has stopped (its failure is recorded as a preemption, agent-reports.ts), and its room
 * then frees for the waiting job. Returns the waiting jobs' reasons (`WAITING_FOR_PREEMPTION`).
 */
export async function preemptForWaiting(
  deps: { store: Store; gateway: AgentGateway; logger: Logger; metrics?: JobMetrics | undefined },
  pass: {
    admitted: readonly PendingJob[];
    result: PlacementResult;
    agents: readonly AgentCapacity[];
    /** The server of each agent that is not this server's. */
    serverOf: ReadonlyMap<string, string>;
  },
): Promise<Map<string, PendingReason>> {
  const reasons = new Map<string, PendingReason>();
  const { admitted, result, agents, serverOf } = pass;
  if (!agents.some((a) => a.preemptible)) return reasons;
  const placed = new Set(result.placements.map((p) => p.jobId));
  const waiting = admitted.filter((j) => !placed.has(j.id) && result.pending.has(j.id));
  if (waiting.length === 0) return reasons;
  const plan = planPreemptions(waiting, agents, { now: Date.now() });
  for (const jobId of plan.waiting) {
    reasons.set(jobId, {
      code: 'WAITING_FOR_PREEMPTION',
      message: 'lower-class jobs on a preemptible agent are being stopped to make room for it',
    });
  }
  if (plan.victims.length === 0) return reasons;
  deps.metrics?.preempted(plan.victims.length);
  const mine = plan.victims.filter((v) => !serverOf.has(v.agentId));
  const stopped = mine.length > 0 ? deps.gateway.preempt(mine, PREEMPT_REASON) : [];
  const elsewhere = new Map<string, { jobId: string; agentId: string }[]>();
  for (const v of plan.victims) {
    const serverId = serverOf.get(v.agentId);
    if (serverId === undefined) continue;
    let list = elsewhere.get(serverId);
    if (!list) elsewhere.set(serverId, (list = []));
    list.push(v);
  }
  for (const [serverId, victims] of elsewhere) await deps.store.publish({ type: 'preempt', serverId, victims });
  deps.logger.info(
    { victims: [...stopped, ...[...elsewhere.values()].flat().map((v) => v.jobId)], for: [...plan.waiting] },
    'preempting lower-class jobs',
  );
  return reasons;
}
