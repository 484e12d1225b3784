import type { PriorityClass, Resources } from '@baton/core';

/** What a job holds on its agent while it runs. */
export interface HeldJob {
  leaseToken: string;
  resources: Resources;
  gpus: number[];
  /**
   * When the job ends at the latest (assignment + its timeout), or is expected to (assignment +
   * its class's learned runtime, for a job without a timeout: a planning figure for the agent's
   * `releases`, never enforced), or Infinity when neither is known.
   */
  endsBy: number;
  /** `endsBy` is the learned estimate, not a timeout: once past, when the job ends is unknown. */
  estimated?: boolean;
  /**
   * The job's priority class, as the placement that sent it here said; null when unknown (a
   * job re-adopted on resume): preemption never stops such a job.
   */
  priority?: PriorityClass | null;
  /** Who submitted it, when known. */
  owner?: string | null;
  /** Its task, when known (null for a job re-adopted on resume): with owner and resources, its runtime class. */
  task?: string | null;
  /** Its queue, when known (null for a job re-adopted on resume): for the metrics' per-queue figures. */
  queue?: string | null;
  /** When it was handed to the agent (epoch ms); for a resumed job, when it was re-adopted. */
  startedAt?: number;
  /** The agent was told to stop it for a higher-class job: its room comes back when it reports. */
  preempting?: boolean;
  /** When the store last renewed the job's lease for this server (assign, start, heartbeat, resume). */
  renewedAt?: number;
  /**
   * The job's outcome came in but the store could not record it (an outage): the agent sends it
   * again and the job keeps its room until the store answers, or its lease lapses.
   */
  unrecorded?: boolean;
}
