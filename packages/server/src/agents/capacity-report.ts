import type { AgentSession } from './agent-session.js';

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
