import type { JobState } from '@baton/core';
import { resourceUnits } from '@baton/core';
import type { Statements } from './statements.js';

/**
 * The changes to `owner_counts` that one transaction's hot-path writes make, added up per owner,
 * queue and state and written once each at its end: enqueue's new jobs (migration 8) and
 * assign's queued → assigned (migration 9). The count trigger skips exactly that transition
 * (count-schema.ts); every other change is still counted row by row. A batch of 50
 * assignments of one owner costs two writes instead of a hundred.
 */
export class OwnerTally {
  private readonly groups = new Map<string, OwnerCountChange>();
  private readonly last: [OwnerCountChange | null, OwnerCountChange | null] = [null, null];

  /** One job of `owner` in `queue` leaves `from` (null: a new job) for `to`. */
  move(owner: string, queue: string, from: JobState | null, to: JobState, resources: JobWeight): void {
    if (from !== null) this.add(owner, queue, from, -1, resources);
    this.add(owner, queue, to, 1, resources);
  }

  /** Writes the changes, one statement per owner, queue and state. Call inside the transaction. */
  flush(sql: Statements): void {
    for (const change of this.groups.values()) sql.addOwnerCounts.run(change);
    this.groups.clear();
    this.last[0] = this.last[1] = null;
  }

  private add(owner: string, queue: string, state: JobState, sign: 1 | -1, r: JobWeight): void {
    // A batch is mostly one owner's jobs in one queue: the group the last change of this sign
    // went to is checked before the map, which saves building a key per job.
    const slot = sign === 1 ? 0 : 1;
    let g: OwnerCountChange | null | undefined = this.last[slot];
    if (!g || g.owner !== owner || g.queue !== queue || g.state !== state) {
      const key = `${owner}\u0000${queue}\u0000${state}`;
      g = this.groups.get(key);
      if (!g) this.groups.set(key, (g = { owner, queue, state, n: 0, gpus: 0, units: 0 }));
      this.last[slot] = g;
    }
    g.n += sign;
    g.gpus += sign * r.gpus;
    g.units += sign * resourceUnits(r); // OwnerLoad.leasedUnits' measure
  }
}

/** The parts of a job's resources its counts carry. */
export interface JobWeight {
  slots: number;
  gpus: number;
}

interface OwnerCountChange {
  owner: string;
  queue: string;
  state: JobState;
  n: number;
  gpus: number;
  units: number;
}
