import type { Quota } from '../accounts.js';
import { QuotaTally, effectiveQuota } from '../rules/quota-rules.js';
import type { Statements } from './statements.js';

interface QuotaRow {
  max_running_jobs: number | null;
  max_gpus: number | null;
  max_queued_jobs: number | null;
  submit_rate_per_sec: number | null;
}

/** A user's own quota, or with `null` the default one; null when there is none. */
export function storedQuota(sql: Statements, user: string | null): Quota | null {
  const row = (user === null ? sql.quotaOf.get('default', '') : sql.quotaOf.get('user', user)) as QuotaRow | undefined;
  if (!row) return null;
  return {
    maxRunningJobs: row.max_running_jobs,
    maxGpus: row.max_gpus,
    maxQueuedJobs: row.max_queued_jobs,
    submitRatePerSec: row.submit_rate_per_sec,
  };
}

/**
 * The quota check of one `assign` call, to run inside its transaction; null when no quota
 * limits placement, so the common case costs one probe of the (small) quotas table per call.
 */
export function quotaTally(sql: Statements): QuotaTally | null {
  const { limited } = sql.quotaLimitsPlacement.get() as { limited: number };
  if (!limited) return null;
  let fallback: Quota | null | undefined;
  return new QuotaTally(
    (owner) => {
      // An owner with no quota of their own (or no account) gets the default, read once a call.
      if (fallback === undefined) fallback = storedQuota(sql, null);
      return effectiveQuota(storedQuota(sql, owner), fallback);
    },
    (owner) => ({ ...(sql.ownerLeased.get(owner) as { jobs: number; gpus: number }) }),
  );
}
