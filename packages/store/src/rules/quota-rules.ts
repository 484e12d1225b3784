import type { Quota } from '../accounts.js';
import { NO_QUOTA } from '../accounts.js';

/**
 * The quota that binds an owner: their own when they have one (it replaces the default whole:
 * a field left null there is unlimited, not the default's), else the default, else none. An
 * owner that is no user account has no own quota, so gets the default.
 */
export function effectiveQuota(own: Quota | null, fallback: Quota | null): Quota {
  return own ?? fallback ?? NO_QUOTA;
}

/** Whether a quota limits placement at all; `assign` skips its bookkeeping when none does. */
export function limitsPlacement(quota: Quota): boolean {
  return quota.maxRunningJobs !== null || quota.maxGpus !== null;
}

/** What an owner holds while an `assign` call runs: the store's count plus what the call assigned. */
export interface LeasedUsage {
  /** Jobs `assigned` or `running`. */
  jobs: number;
  /** GPUs of those jobs. */
  gpus: number;
}

/**
 * Whether one more job needing `gpus` GPUs fits the owner's quota on top of what they hold.
 * A job that alone needs more GPUs than `maxGpus` never fits: raising the quota is the way out.
 */
export function fitsQuota(quota: Quota, held: LeasedUsage, gpus: number): boolean {
  if (quota.maxRunningJobs !== null && held.jobs + 1 > quota.maxRunningJobs) return false;
  if (quota.maxGpus !== null && held.gpus + gpus > quota.maxGpus) return false;
  return true;
}

/**
 * Decides, in order, which of an `assign` call's placements its owners' quotas allow, counting
 * each allowed one against the later ones of the same owner. The backend supplies what it reads
 * (each owner's quota and current usage, asked once per owner and cached) and applies the
 * answer inside its atomic step; a placement it then finds stale must be passed to `undo`
 * so it does not count.
 */
export class QuotaTally {
  private readonly quotas = new Map<string, Quota>();
  private readonly held = new Map<string, LeasedUsage>();

  constructor(
    private readonly quotaOf: (owner: string) => Quota,
    private readonly usageOf: (owner: string) => LeasedUsage,
  ) {}

  /** Whether the owner may take one more job of `gpus` GPUs; if so, it is counted. */
  take(owner: string, gpus: number): boolean {
    let quota = this.quotas.get(owner);
    if (!quota) {
      quota = this.quotaOf(owner);
      this.quotas.set(owner, quota);
    }
    if (!limitsPlacement(quota)) return true;
    let held = this.held.get(owner);
    if (!held) {
      held = this.usageOf(owner);
      this.held.set(owner, held);
    }
    if (!fitsQuota(quota, held, gpus)) return false;
    held.jobs += 1;
    held.gpus += gpus;
    return true;
  }

  /** Gives back a job `take` counted that was not assigned after all. */
  undo(owner: string, gpus: number): void {
    const held = this.held.get(owner);
    if (!held) return;
    held.jobs -= 1;
    held.gpus -= gpus;
  }
}
