import type { AgentCapacity, Job, PendingReason } from '@baton/core';
import { place } from '@baton/core';
import type { SchedulerLoop } from './scheduler-loop.js';

/**
 * Why a queued job is still waiting. The last scheduling pass's answer when it looked at the
 * job; otherwise the job is placed alone against the fleet as it is now (`agents`: this
 * server's and the ones other servers report, on every server, with a scheduler or without:
 * with several servers the job's agents are often elsewhere), which tells apart
 * "nothing could ever run it" from "room is taken" — and, when it would fit alone, that jobs
 * ahead of it come first.
 */
export function explainPending(
  job: Pick<Job, 'id' | 'queue' | 'task' | 'priority' | 'priorityLevel' | 'resources' | 'constraints'>,
  agents: readonly AgentCapacity[],
  scheduler: SchedulerLoop | null,
): PendingReason {
  const seen = scheduler?.pendingReason(job.id);
  if (seen) return seen;
  const alone = place(
    [
      {
        id: job.id,
        queue: job.queue,
        task: job.task,
        priority: job.priority,
        priorityLevel: job.priorityLevel,
        resources: job.resources,
        constraints: job.constraints,
        avoidAgentId: null,
      },
    ],
    agents,
  );
  const reason = alone.pending.get(job.id);
  if (reason) return reason;
  if (!scheduler) {
    return { code: 'WAITING_FOR_CAPACITY', message: 'this server runs no scheduler; another server places jobs' };
  }
  return {
    code: 'BEHIND_HIGHER_PRIORITY',
    message: 'an agent has room for it; jobs ahead of it in its queue are placed first',
  };
}
