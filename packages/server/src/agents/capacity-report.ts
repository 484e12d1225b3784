import type { AgentSession, AgentSessionState } from './agent-session.js';

export interface PoolSlots {
  name: string;
  /** Slots of the pool's agents that are connected (draining ones included: they still run jobs). */
  capacity: number;
  /** Slots the pool should have. Equal to `capacity` until autoscaling sets targets. */
  target: number;
  used: number;
  /** Slots new work can take now: free slots of connected agents that are not draining. */
  available: number;
  /** Jobs holding slots. */
  holders: number;
}

export interface CapacityReport {
  slots: PoolSlots[];
  totals: { capacity: number; used: number; available: number };
  gpus: { total: number; used: number; available: number; unhealthy: number };
}

/** The fleet's capacity by pool, as `GET /api/capacity` reports it. */
export function capacityReport(sessions: readonly AgentSession[]): CapacityReport {
  const pools = new Map<string, PoolSlots>();
  const gpus = { total: 0, used: 0, available: 0, unhealthy: 0 };
  for (const s of sessions) {
    if (s.state === 'disconnected') continue;
    const { pool, slots } = s.declaration;
    let entry = pools.get(pool);
    if (!entry) pools.set(pool, (entry = { name: pool, capacity: 0, target: 0, used: 0, available: 0, holders: 0 }));
    entry.capacity += slots;
    entry.target += slots;
    entry.used += s.slotsUsed;
    entry.holders += s.held.size;
    if (s.schedulable) entry.available += Math.max(0, slots - s.slotsUsed);
    for (const gpu of s.gpus.values()) {
      gpus.total++;
      const held = s.gpuHolder(gpu.index) !== undefined;
      if (held) gpus.used++;
      if (!gpu.healthy) gpus.unhealthy++;
      else if (!held && s.schedulable) gpus.available++;
    }
  }
  const slots = [...pools.values()].sort((a, b) => a.name.localeCompare(b.name));
  const totals = { capacity: 0, used: 0, available: 0 };
  for (const p of slots) {
    totals.capacity += p.capacity;
    totals.used += p.used;
    totals.available += p.available;
  }
  return { slots, totals, gpus };
}

/** Adds up the reports of several servers (pools of one name are one pool). */
export function mergeCapacity(parts: readonly CapacityReport[]): CapacityReport {
  const pools = new Map<string, PoolSlots>();
  const totals = { capacity: 0, used: 0, available: 0 };
  const gpus = { total: 0, used: 0, available: 0, unhealthy: 0 };
  for (const part of parts) {
    for (const p of part.slots) {
      const entry = pools.get(p.name);
      if (!entry) pools.set(p.name, { ...p });
      else {
        entry.capacity += p.capacity;
        entry.target += p.target;
        entry.used += p.used;
        entry.available += p.available;
        entry.holders += p.holders;
      }
    }
    for (const k of ['capacity', 'used', 'available'] as const) totals[k] += part.totals[k];
    for (const k of ['total', 'used', 'available', 'unhealthy'] as const) gpus[k] += part.gpus[k];
  }
  return { slots: [...pools.values()].sort((a, b) => a.name.localeCompare(b.name)), totals, gpus };
}

/** Agent session states, in the order metrics list them. */
export const AGENT_STATES: readonly AgentSessionState[] = ['connected', 'draining', 'disconnected'];

/** The queue label of jobs whose queue this server does not know (re-adopted on resume); no queue is named so. */
export const UNKNOWN_QUEUE = '_unknown';

/**
 * A pool's figures for `/metrics`, beyond its slots: its agents by state, its GPUs, and the
 * leased jobs its agents hold by queue. Reported to the store with the slots (an older
 * server's report lacks them: its pools then count zero here).
 */
export interface PoolFigures {
  pool: string;
  agents: Record<AgentSessionState, number>;
  /** GPUs of the pool's agents that are not disconnected (as `CapacityReport.gpus` counts them). */
  gpus: { total: number; used: number; unhealthy: number };
  /** Leased jobs by queue; every queue the pool's agents serve is listed, 0 when none runs. */
  running: Record<string, number>;
}

/** The pool figures of this server's agents, sorted by pool. */
export function poolFigures(sessions: readonly AgentSession[]): PoolFigures[] {
  const pools = new Map<string, PoolFigures>();
  for (const s of sessions) {
    const { pool, queues } = s.declaration;
    let entry = pools.get(pool);
    if (!entry) pools.set(pool, (entry = emptyPool(pool)));
    entry.agents[s.state]++;
    for (const queue of queues) entry.running[queue] ??= 0;
    // Room held for an assignment still being made ('' token) is not a leased job yet.
    for (const held of s.held.values()) {
      if (held.leaseToken === '') continue;
      const queue = held.queue ?? UNKNOWN_QUEUE;
      entry.running[queue] = (entry.running[queue] ?? 0) + 1;
    }
    if (s.state === 'disconnected') continue;
    for (const gpu of s.gpus.values()) {
      entry.gpus.total++;
      if (s.gpuHolder(gpu.index) !== undefined) entry.gpus.used++;
      if (!gpu.healthy) entry.gpus.unhealthy++;
    }
  }
  return [...pools.values()].sort((a, b) => a.pool.localeCompare(b.pool));
}

/**
 * Adds up several servers' pool figures (pools of one name are one pool). Entries that are not
 * well-formed (a newer or broken server's) are skipped.
 */
export function mergePoolFigures(parts: readonly (readonly PoolFigures[])[]): PoolFigures[] {
  const pools = new Map<string, PoolFigures>();
  const count = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);
  for (const part of parts) {
    for (const p of part) {
      if (typeof p?.pool !== 'string') continue;
      let entry = pools.get(p.pool);
      if (!entry) pools.set(p.pool, (entry = emptyPool(p.pool)));
      for (const state of AGENT_STATES) entry.agents[state] += count(p.agents?.[state]);
      for (const k of ['total', 'used', 'unhealthy'] as const) entry.gpus[k] += count(p.gpus?.[k]);
      for (const [queue, n] of Object.entries(p.running ?? {}))
        entry.running[queue] = (entry.running[queue] ?? 0) + count(n);
    }
  }
  return [...pools.values()].sort((a, b) => a.pool.localeCompare(b.pool));
}

function emptyPool(pool: string): PoolFigures {
  return {
    pool,
    agents: { connected: 0, draining: 0, disconnected: 0 },
    gpus: { total: 0, used: 0, unhealthy: 0 },
    running: {},
  };
}
