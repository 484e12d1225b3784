import type { JobState } from '@baton/core';
import type { JobView } from './types.js';

/** `GET /api/jobs/counts`: jobs by state (every state present) and their sum. */
export interface JobCounts {
  counts: Record<JobState, number>;
  total: number;
}

/** `POST /api/jobs/:id/retry`: the new job, and the one it retries. */
export interface RetriedJob {
  job: JobView;
  retryOf: string;
}

/** Which jobs a bulk cancel or retry acts on (epoch ms for `since` inclusive, `until` exclusive). */
export interface BulkFilter {
  state?: JobState;
  queue?: string;
  task?: string;
  owner?: string;
  since?: number;
  until?: number;
}

export interface BulkActionRequest {
  filter: BulkFilter;
  /** Only count what would be acted on. */
  dryRun?: boolean;
  /** Jobs looked at, at most: 1 to 10 000 (default 10 000). */
  max?: number;
}

export interface BulkResult {
  matched: number;
  acted: number;
  skipped: number;
  /** More matched than `max`: send it again for the rest. */
  truncated: boolean;
}

/** One sample of `GET /api/overview/history`. */
export interface OverviewSample {
  at: number;
  queued: number;
  /** `assigned` and `running`. */
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  oldestQueuedAgeMs: number | null;
  /** Null in the first sample; clamped at 0 (retention deletes finished jobs). */
  finishedPerSec: number | null;
}

export interface OverviewHistoryView {
  intervalMs: number;
  samples: OverviewSample[];
}

/** `GET /api/attention`. */
export interface AttentionView {
  deadLettered: number;
  unhealthyGpus: { agentId: string; agentName: string; index: number; reason: string | null }[];
  strandedGpus: number;
  blocked: { reason: string; count: number; jobIds: string[] }[];
}
