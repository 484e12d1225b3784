import type { GpuHealth } from '@baton/core';
import type { Store } from '@baton/store';
import type { Logger } from 'pino';
import type { AgentSession } from './agent-session.js';
import type { JobMetrics } from '../metrics/job-metrics.js';

/**
 * Applies an agent's GPU health changes to its session. The job on a GPU that became
 * unhealthy goes back to the queue at once (`GPU_UNHEALTHY`) and its agent is told to stop it.
 */
export async function moveOffUnhealthyGpus(
  store: Store,
  logger: Logger,
  session: AgentSession,
  changes: GpuHealth[],
  metrics?: JobMetrics,
): Promise<void> {
  const moved: { jobId: string; leaseToken: string; index: number; reason: string }[] = [];
  for (const change of changes) {
    const gpu = session.gpus.get(change.index);
    if (!gpu) continue;
    gpu.healthy = change.healthy;
    if (change.healthy) {
      delete gpu.reason;
      continue;
    }
    gpu.reason = change.reason ?? 'reported unhealthy';
    const jobId = session.gpuHolder(change.index);
    const held = jobId === undefined ? undefined : session.held.get(jobId);
    if (jobId !== undefined && held && !moved.some((m) => m.jobId === jobId)) {
      moved.push({ jobId, leaseToken: held.leaseToken, index: change.index, reason: gpu.reason });
    }
  }
  logger.warn({ agentId: session.id, changes, moved: moved.map((m) => m.jobId) }, 'GPU health changed');
  if (moved.length > 0) {
    const results = await store.release(
      moved.map((m) => ({
        jobId: m.jobId,
        leaseToken: m.leaseToken,
        error: {
          code: 'GPU_UNHEALTHY',
          message: `GPU ${m.index} on agent ${session.name} became unhealthy (${m.reason}); the job moves elsewhere`,
          retryable: true,
        },
      })),
    );
    metrics?.released('gpu_unhealthy', results, (jobId) => session.held.get(jobId));
    for (const m of moved) session.release(m.jobId);
    session.inbox?.abort(
      moved.map((m) => m.jobId),
      'GPU became unhealthy; the job runs again elsewhere',
    );
  }
}
