import type { AgentCapacity, PendingJob } from '@baton/core';
import type { Store } from '@baton/store';
import { explainPending } from '../agents/explain-pending.js';
import type { SchedulerLoop } from '../agents/scheduler-loop.js';

/** Pending reasons that only say the job waits its turn for room: not what needs a look. */
const CAPACITY_REASONS = new Set([
  'WAITING_FOR_CAPACITY',
  'BEHIND_HIGHER_PRIORITY',
  'RESERVED_FOR_LARGER_JOB',
  'FAIR_SHARE',
  'WAITING_FOR_PREEMPTION',
]);

/** Queued jobs looked at for `blocked`, at most, over at most this many queues (oldest waits first). */
export const BLOCKED_SAMPLE = 200;
export const BLOCKED_QUEUES = 20;
/** Job ids named per blocked reason. */
const IDS_PER_REASON = 5;

export interface UnhealthyGpu {
  agentId: string;
  agentName: string;
  index: number;
  reason: string | null;
}

export interface Attention {
  /** Jobs `failed` (attempts exhausted: the dead letter), the asker's own for a user. */
  deadLettered: number;
  unhealthyGpus: UnhealthyGpu[];
  strandedGpus: number;
  blocked: { reason: string; count: number; jobIds: string[] }[];
}

export interface AttentionDeps {
  store: Store;
  scheduler: SchedulerLoop | null;
  fleetAgents: () => Promise<AgentCapacity[]>;
  /** The fleet's agents as `GET /api/agents` shows them. */
  agentViews: () => Promise<Record<string, unknown>[]>;
  /** Free GPUs no waiting job can use, per pool (the scaling decisions' figure). */
  strandedGpus: () => Promise<Record<string, number>>;
}

/**
 * What needs a look, in bounded work: the dead letter's count (kept counts), GPUs agents report
 * unhealthy, stranded GPUs, and queued jobs held back for a reason other than room (no agent
 * for their queue, task, tags, class or size; their owner's quota), found among the heads of
 * the queues that waited longest (a user's: their newest queued jobs) — BLOCKED_SAMPLE jobs at
 * most, so a job deeper in a long queue is not seen. `owner`: only that user's jobs count, and
 * the fleet's GPU list is left empty.
 */
export async function attentionOf(deps: AttentionDeps, owner: string | null): Promise<Attention> {
  const stats = await deps.store.queueStats();
  const deadLettered =
    owner === null
      ? stats.reduce((n, s) => n + s.counts.failed, 0)
      : (await deps.store.ownerUsage(owner)).queues.reduce((n, q) => n + q.counts.failed, 0);
  const [blocked, stranded, unhealthyGpus] = await Promise.all([
    blockedJobs(deps, stats, owner),
    deps.strandedGpus(),
    owner === null ? unhealthy(await deps.agentViews()) : Promise.resolve([]),
  ]);
  return {
    deadLettered,
    unhealthyGpus,
    strandedGpus: Object.values(stranded).reduce((n, g) => n + g, 0),
    blocked,
  };
}

async function blockedJobs(
  deps: AttentionDeps,
  stats: Awaited<ReturnType<Store['queueStats']>>,
  owner: string | null,
): Promise<Attention['blocked']> {
  const waiting = stats
    .filter((s) => s.counts.queued > 0)
    .sort((a, b) => (b.oldestQueuedAgeMs ?? 0) - (a.oldestQueuedAgeMs ?? 0))
    .slice(0, BLOCKED_QUEUES);
  if (waiting.length === 0) return [];
  const sample: Pick<
    PendingJob,
    'id' | 'queue' | 'task' | 'priority' | 'priorityLevel' | 'resources' | 'constraints'
  >[] =
    owner === null
      ? await deps.store.pending(
          waiting.map((s) => ({ queue: s.queue, limit: Math.max(1, Math.floor(BLOCKED_SAMPLE / waiting.length)) })),
        )
      : // A user's own queued jobs, as their GET /api/jobs?state=queued reads them.
        (await deps.store.listJobs({ owner, state: 'queued', limit: BLOCKED_SAMPLE })).jobs;
  if (sample.length === 0) return [];
  const agents = await deps.fleetAgents();
  const byReason = new Map<string, { count: number; jobIds: string[] }>();
  for (const job of sample) {
    const { code } = explainPending(job, agents, deps.scheduler);
    if (CAPACITY_REASONS.has(code)) continue;
    const entry = byReason.get(code) ?? { count: 0, jobIds: [] };
    entry.count += 1;
    if (entry.jobIds.length < IDS_PER_REASON) entry.jobIds.push(job.id);
    byReason.set(code, entry);
  }
  return [...byReason]
    .map(([reason, e]) => ({ reason, ...e }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

/** Unhealthy GPUs of the fleet's agents, from their `GET /api/agents` views. */
function unhealthy(views: readonly Record<string, unknown>[]): UnhealthyGpu[] {
  const out: UnhealthyGpu[] = [];
  for (const v of views) {
    const gpus = Array.isArray(v.gpus) ? (v.gpus as { index?: unknown; healthy?: unknown; reason?: unknown }[]) : [];
    for (const g of gpus) {
      if (g.healthy !== false || typeof g.index !== 'number') continue;
      out.push({
        agentId: String(v.id),
        agentName: String(v.name),
        index: g.index,
        reason: typeof g.reason === 'string' ? g.reason : null,
      });
    }
  }
  return out;
}
