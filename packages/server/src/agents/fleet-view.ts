import type { AgentCapacity, Resources } from '@baton/core';
import type { Store } from '@baton/store';
import { fromReport } from './capacity-wire.js';

/** Room offered to an agent of another server and not yet seen in a report from it. */
interface InFlight {
  at: number;
  slots: number;
  cpu: number;
  memoryMb: number;
  gpus: Set<number>;
}

/**
 * The agents of the other servers, as their reports in the store say, less what this
 * scheduler has offered them since (so one pass does not offer the same room twice before the
 * agent's server reports again). Reports are re-read when another server announces new
 * capacity, or when older than `maxAgeMs`.
 */
export class FleetView {
  private agents: { serverId: string; at: number; capacity: AgentCapacity }[] = [];
  private readAt = 0;
  private dirty = true;
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    private readonly store: Store,
    private readonly serverId: string,
    private readonly maxAgeMs = 1000,
  ) {}

  /** Another server reported: read the reports again before the next pass. */
  markDirty(): void {
    this.dirty = true;
  }

  /** The other servers' agents with room left after in-flight offers. */
  async remote(now = Date.now()): Promise<{ serverId: string; capacity: AgentCapacity }[]> {
    if (this.dirty || now - this.readAt > this.maxAgeMs) {
      this.dirty = false;
      this.readAt = now;
      const reports = await this.store.agentReports();
      this.agents = reports
        .filter((r) => r.serverId !== this.serverId)
        .flatMap((r) => fromReport(r.report).map((capacity) => ({ serverId: r.serverId, at: r.at, capacity })));
    }
    return this.agents.map(({ serverId, at, capacity }) => {
      const sent = this.inFlight.get(capacity.id);
      if (!sent) return { serverId, capacity };
      if (at >= sent.at) {
        this.inFlight.delete(capacity.id); // the report already counts what was offered
        return { serverId, capacity };
      }
      return {
        serverId,
        capacity: {
          ...capacity,
          freeSlots: capacity.freeSlots - sent.slots,
          freeCpu: capacity.freeCpu - sent.cpu,
          freeMemoryMb: capacity.freeMemoryMb - sent.memoryMb,
          freeGpus: capacity.freeGpus.filter((i) => !sent.gpus.has(i)),
        },
      };
    });
  }

  /** Remembers room offered to another server's agent until that server reports again. */
  offered(agentId: string, resources: Resources, gpus: readonly number[], now = Date.now()): void {
    let sent = this.inFlight.get(agentId);
    if (!sent) this.inFlight.set(agentId, (sent = { at: now, slots: 0, cpu: 0, memoryMb: 0, gpus: new Set() }));
    sent.at = now;
    sent.slots += resources.slots;
    sent.cpu += resources.cpu;
    sent.memoryMb += resources.memoryMb;
    for (const i of gpus) sent.gpus.add(i);
  }
}
