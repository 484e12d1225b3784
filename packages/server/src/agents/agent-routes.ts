import type { AgentRegistration } from '@baton/core';
import { MAX_AGENT_TASK_ROUTES, ValidationError } from '@baton/core';
import type { TaskRoute } from '@baton/store';

/** The queues an agent takes work from: those it names (`--queues`) and each of its tasks' own. */
export function queuesOf(r: AgentRegistration): string[] {
  return [...new Set([...r.queues, ...r.tasks.map((t) => t.queue)])];
}

/**
 * The task routes an agent serves: every task of it on every queue it takes. Placement puts a
 * job on an agent that takes its queue and serves its task, so these are exactly the
 * (task, queue) pairs it can run, and submissions to them are accepted. More than
 * {@link MAX_AGENT_TASK_ROUTES} is refused (`INVALID_REGISTRATION`).
 */
export function routesOf(r: AgentRegistration): TaskRoute[] {
  const queues = queuesOf(r);
  const tasks = [...new Set(r.tasks.map((t) => t.task))];
  const count = tasks.length * queues.length;
  if (count > MAX_AGENT_TASK_ROUTES) {
    throw new ValidationError(
      `the registration serves ${tasks.length} tasks on ${queues.length} queues, ${count} task routes; ` +
        `the limit is ${MAX_AGENT_TASK_ROUTES} per agent: give it fewer --queues or tasks`,
      { tasks: tasks.length, queues: queues.length, routes: count, limit: MAX_AGENT_TASK_ROUTES },
      'INVALID_REGISTRATION',
    );
  }
  return tasks.flatMap((task) => queues.map((queue) => ({ task, queue })));
}
