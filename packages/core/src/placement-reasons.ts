import type { Resources } from './job.js';
import type { PendingReason } from './placement-types.js';
import type { Capacity, EligibilityClass, Reservation } from './placement-fleet.js';

/** The people-facing messages of placement's pending reasons, in one place. */

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `4 GPUs`, `2 slots, 8 CPUs, 4096 MiB of memory`: what a job needs, in words. */
export function describeNeeds(r: Resources, free = false): string {
  const f = free ? 'free ' : '';
  const parts: string[] = [];
  if (r.gpus > 0) parts.push(plural(r.gpus, `${f}GPU`));
  if (r.gpus === 0 || r.slots > 1) parts.push(plural(r.slots, `${f}slot`));
  if (r.cpu > 0) parts.push(plural(r.cpu, 'CPU'));
  if (r.memoryMb > 0) parts.push(`${r.memoryMb} MiB of memory`);
  return parts.join(', ');
}

function where(cls: EligibilityClass): string {
  return cls.tags.length > 0 ? `on an agent with tags ${cls.tags.join(', ')}` : `on an agent of queue "${cls.queue}"`;
}

export function noAgentForQueue(queue: string): PendingReason {
  return { code: 'NO_AGENT_FOR_QUEUE', message: `no connected agent takes queue "${queue}"` };
}

export function noAgentForTask(queue: string, task: string): PendingReason {
  return { code: 'NO_AGENT_FOR_TASK', message: `no agent of queue "${queue}" serves task "${task}"` };
}

export function noAgentWithTags(queue: string, task: string, missing: readonly string[]): PendingReason {
  return {
    code: 'NO_AGENT_WITH_TAGS',
    message: `no agent of queue "${queue}" serving task "${task}" has tags ${missing.join(', ')}`,
  };
}

/** Names the first dimension no eligible agent is big enough for, or says they never meet. */
export function exceedsAgents(r: Resources, frontier: readonly Capacity[], gpuAgentsOnly: boolean): PendingReason {
  const max = (i: number) => frontier.reduce((m, k) => Math.max(m, k[i]!), 0);
  let message: string;
  if (r.gpus > max(3)) {
    message = `needs ${plural(r.gpus, 'GPU')}; the largest eligible agent has ${max(3)}`;
  } else if (r.slots > max(0)) {
    message =
      r.gpus === 0 && gpuAgentsOnly
        ? `needs ${plural(r.slots, 'slot')} without GPUs; eligible agents keep their slots for their GPUs`
        : `needs ${plural(r.slots, 'slot')}; the largest eligible agent has ${max(0)}`;
  } else if (r.cpu > max(1)) {
    message = `needs ${plural(r.cpu, 'CPU')}; the largest eligible agent has ${max(1)}`;
  } else if (r.memoryMb > max(2)) {
    message = `needs ${r.memoryMb} MiB of memory; the largest eligible agent has ${max(2)} MiB`;
  } else {
    message = `needs ${describeNeeds(r)}; no eligible agent has all of that at once`;
  }
  return { code: 'RESOURCES_EXCEED_AGENTS', message };
}

export function waitingForCapacity(r: Resources, cls: EligibilityClass): PendingReason {
  return { code: 'WAITING_FOR_CAPACITY', message: `waiting for ${describeNeeds(r, true)} ${where(cls)}` };
}

/** A blocked job's own reason, saying which agent is held for it. */
export function heldFor(reason: PendingReason, reservation: Reservation): PendingReason {
  const agent = reservation.agent;
  return {
    code: reason.code,
    message: `${reason.message}; agent ${agent.id} is held for it (${plural(agent.freeGpus.length, 'GPU')} free now)`,
  };
}

export function reservedForLargerJob(reservation: Reservation): PendingReason {
  return {
    code: 'RESERVED_FOR_LARGER_JOB',
    message: `agent ${reservation.agent.id} is held for job ${reservation.jobId}, which needs ${describeNeeds(reservation.resources)}`,
  };
}

export function behindHigherPriority(r: Resources): PendingReason {
  return {
    code: 'BEHIND_HIGHER_PRIORITY',
    message: `jobs ahead of it in priority order took the room it needs (${describeNeeds(r)})`,
  };
}
