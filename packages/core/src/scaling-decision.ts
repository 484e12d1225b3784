import type { PoolConfig } from './pools-config.js';
import { unitsPerAgent } from './pools-config.js';
import type { Recommendation, ScaleEvent } from './scaling-hpa.js';
import { recommendReplicas, scaleDownLimit, scaleUpLimit, stabilize } from './scaling-hpa.js';

/**
 * How many agents a pool should have, decided as the Kubernetes HPA would (scaling-hpa.ts) on
 * the load per agent, plus what the HPA cannot do alone and KEDA adds: scale to zero after a
 * cooldown, and back from zero on the first job only that pool can run. Pure: time is a
 * parameter and the memory of past decisions is passed in and returned.
 */

/** What the fleet shows of one pool at a sync. */
export interface PoolLoad {
  /** Agents of the pool connected and not draining. */
  agents: number;
  /** Pending jobs counted for this pool (each job counts for one pool only). */
  pendingJobs: number;
  /** Units (slots, or GPUs for a GPU pool) those pending jobs ask for. */
  pendingUnits: number;
  /** Units held by jobs running on the pool's agents. */
  runningUnits: number;
}

/** What a pool's scaler remembers between syncs. */
export interface PoolMemory {
  /** The last decision: the replicas the pool is being scaled to. Null before the first. */
  desired: number | null;
  recommendations: Recommendation[];
  events: ScaleEvent[];
  /** When the pool last had work (pending or running); the scale-to-zero cooldown runs from it. */
  lastActiveAt: number | null;
  lastScaleAt: number | null;
}

export const emptyPoolMemory = (): PoolMemory => ({
  desired: null,
  recommendations: [],
  events: [],
  lastActiveAt: null,
  lastScaleAt: null,
});

export interface PoolDecision {
  pool: string;
  unit: 'slots' | 'gpus';
  /** Agents connected now (not draining). */
  current: number;
  desired: number;
  min: number;
  max: number;
  reason: string;
  /** When the desired count last changed (epoch ms), or null. */
  lastScaleAt: number | null;
  /** Units wanted: pending plus running. */
  load: number;
  pendingJobs: number;
}

/** One sync of one pool: the decision, and the memory for the next sync. */
export function decidePool(
  pool: PoolConfig,
  load: PoolLoad,
  memory: PoolMemory,
  now: number,
  tolerance: number,
): { decision: PoolDecision; memory: PoolMemory } {
  const replicas = memory.desired ?? clamp(load.agents, pool.min, pool.max);
  const units = load.pendingUnits + load.runningUnits;
  const active = load.pendingJobs > 0 || load.runningUnits > 0;
  // A server that just started has not seen the pool busy, so the cooldown starts now rather
  // than dropping agents it knows nothing about.
  const lastActiveAt = active ? now : (memory.lastActiveAt ?? now);
  const next: PoolMemory = { ...memory, lastActiveAt };
  let desired: number;
  let reason: string;

  const mayBeZero = pool.min === 0;
  const idleFor = now - lastActiveAt;
  if (mayBeZero && !active && (replicas === 0 || idleFor >= pool.cooldownSeconds * 1000)) {
    desired = 0;
    reason =
      replicas === 0
        ? 'idle: no pending or running jobs'
        : `idle for ${pool.cooldownSeconds} s (cooldown): scale to zero`;
    next.recommendations = [];
  } else if (mayBeZero && replicas === 0) {
    // Back from zero: as many as the load wants, within what the scale-up policies allow from 0
    // (KEDA activates the first agent whatever the policies say).
    const wanted = Math.max(1, Math.ceil(units / (unitsPerAgent(pool) * pool.targetUtilization)));
    const limit = Math.max(1, Math.min(pool.max, scaleUpLimit(0, memory.events, now, pool.scaleUp)));
    desired = Math.min(wanted, limit);
    reason = `scale from zero: ${load.pendingJobs} pending job(s) only this pool runs${limitNote(wanted, desired, pool)}`;
    next.recommendations = [{ at: now, replicas: wanted }];
  } else {
    const step = hpaStep(pool, load, units, replicas, memory, now, tolerance);
    ({ desired, reason } = step);
    next.recommendations = [...memory.recommendations, { at: now, replicas: step.raw }];
    if (mayBeZero && !active) {
      const left = Math.ceil((pool.cooldownSeconds * 1000 - idleFor) / 1000);
      reason += `; idle, zero after the cooldown (${left} s left)`;
    }
  }

  if (desired !== replicas) {
    next.events = [...memory.events, { at: now, change: desired - replicas }];
    next.lastScaleAt = now;
  }
  next.desired = desired;
  trim(next, pool, now);
  return {
    decision: {
      pool: pool.name,
      unit: pool.gpusPerAgent !== undefined ? 'gpus' : 'slots',
      current: load.agents,
      desired,
      min: pool.min,
      max: pool.max,
      reason,
      lastScaleAt: next.lastScaleAt,
      load: units,
      pendingJobs: load.pendingJobs,
    },
    memory: next,
  };
}

function hpaStep(
  pool: PoolConfig,
  load: PoolLoad,
  units: number,
  replicas: number,
  memory: PoolMemory,
  now: number,
  tolerance: number,
): { desired: number; reason: string; raw: number } {
  const per = unitsPerAgent(pool);
  const unit = pool.gpusPerAgent !== undefined ? 'GPUs' : 'slots';
  const minReplicas = Math.max(1, pool.min);
  const raw = recommendReplicas(replicas, units, per, pool.targetUtilization, tolerance);
  const parts: string[] = [
    `load ${units} ${unit} (${load.pendingUnits} pending, ${load.runningUnits} running) at ${per} per agent, target ${pool.targetUtilization}`,
  ];
  const wanted = units / (per * pool.targetUtilization);
  if (replicas > 0 && raw === replicas && Math.ceil(wanted) !== replicas)
    parts.push(`within ${Math.round(tolerance * 100)} % of target: keep ${replicas}`);
  else parts.push(`wants ${raw}`);

  let desired = stabilize(replicas, raw, memory.recommendations, now, pool.scaleUp, pool.scaleDown);
  if (desired > raw)
    parts.push(`held at ${desired} by the ${pool.scaleDown.stabilizationWindowSeconds} s scale-down window`);
  else if (desired < raw)
    parts.push(`held at ${desired} by the ${pool.scaleUp.stabilizationWindowSeconds} s scale-up window`);

  if (desired > replicas) {
    const limit = scaleUpLimit(replicas, memory.events, now, pool.scaleUp);
    if (limit < desired && limit < pool.max) {
      desired = Math.max(limit, replicas);
      parts.push(`limited to ${desired} by the scale-up policy`);
    }
  } else if (desired < replicas) {
    const limit = scaleDownLimit(replicas, memory.events, now, pool.scaleDown);
    if (limit > desired && limit > minReplicas) {
      desired = limit;
      parts.push(`limited to ${desired} by the scale-down policy`);
    }
  }
  if (desired > pool.max) {
    desired = pool.max;
    parts.push(`at max ${pool.max}`);
  } else if (desired < minReplicas) {
    desired = minReplicas;
    parts.push(`at min ${minReplicas}`);
  }
  return { desired, reason: parts.join('; '), raw };
}

function limitNote(wanted: number, desired: number, pool: PoolConfig): string {
  if (desired >= wanted) return '';
  return desired === pool.max ? `; at max ${pool.max}` : `; limited to ${desired} by the scale-up policy`;
}

/** Forgets what no window or policy period can still see. */
function trim(memory: PoolMemory, pool: PoolConfig, now: number): void {
  const window = Math.max(pool.scaleUp.stabilizationWindowSeconds, pool.scaleDown.stabilizationWindowSeconds) * 1000;
  const period =
    Math.max(
      0,
      ...pool.scaleUp.policies.map((p) => p.periodSeconds),
      ...pool.scaleDown.policies.map((p) => p.periodSeconds),
    ) * 1000;
  memory.recommendations = memory.recommendations.filter((r) => r.at > now - window);
  memory.events = memory.events.filter((e) => e.at > now - period);
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

/** A pool's agent as scale-in sees it. */
export interface DrainCandidate {
  id: string;
  /** Holds a job (running or lingering). */
  busy: boolean;
  connectedAt: number;
}

/**
 * The agents to drain so the pool comes down to `desired`: idle ones only, the newest first
 * (older agents keep their warm caches), never a busy one. Where too few are idle the rest wait
 * for a later sync: `busyKept` says how many the pool is over for now.
 */
export function chooseDrain(agents: readonly DrainCandidate[], desired: number): { drain: string[]; busyKept: number } {
  const excess = agents.length - desired;
  if (excess <= 0) return { drain: [], busyKept: 0 };
  const idle = agents.filter((a) => !a.busy).sort((a, b) => b.connectedAt - a.connectedAt || (a.id < b.id ? -1 : 1));
  const drain = idle.slice(0, excess).map((a) => a.id);
  return { drain, busyKept: excess - drain.length };
}
