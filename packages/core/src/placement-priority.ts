import type { PriorityClass } from './job.js';
import type { AgentCapacity, PendingReason } from './placement-types.js';

/**
 * Priority pools: an agent started with `--priorities high` takes only jobs of those classes.
 * Placement narrows each eligibility class (queue, task, tags) by the job's priority class, and
 * only when some agent of the fleet is dedicated, so a fleet without pools pays nothing.
 */

/** Whether the agent takes jobs of this class: every agent does unless it is dedicated to others. */
export function servesPriority(agent: AgentCapacity, priority: PriorityClass): boolean {
  return agent.priorities === undefined || agent.priorities.includes(priority);
}

/** The queues taken by an agent dedicated to some classes: only there does a job's class matter. */
export function dedicatedQueues(agents: readonly AgentCapacity[]): ReadonlySet<string> {
  const queues = new Set<string>();
  for (const a of agents) if (a.priorities !== undefined) for (const q of a.queues) queues.add(q);
  return queues;
}

/** The reason of a job whose otherwise eligible agents all serve other classes. */
export function noAgentForPriority(
  queue: string,
  task: string,
  priority: PriorityClass,
  agents: readonly AgentCapacity[],
): PendingReason {
  const served = new Set<string>();
  for (const a of agents) for (const p of a.priorities ?? []) served.add(p);
  const they = agents.length === 1 ? 'its only eligible agent is' : `its ${agents.length} eligible agents are`;
  return {
    code: 'NO_AGENT_FOR_PRIORITY',
    message: `no agent of queue "${queue}" serving task "${task}" takes ${priority}-priority jobs: ${they} dedicated to ${[...served].join(', ')}`,
  };
}
