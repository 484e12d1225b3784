import type { PriorityClass } from './job.js';
import type { AgentCapacity, PendingJob, PendingReason } from './placement-types.js';
import type { AgentState, Capacity } from './placement-fleet.js';
import { EligibilityClass } from './placement-fleet.js';
import { dedicatedQueues, noAgentForPriority, servesPriority } from './placement-priority.js';
import * as reasons from './placement-reasons.js';

/**
 * A placement pass's eligibility classes: jobs of one queue, task and set of tags (and, in a
 * queue with an agent dedicated to some priority classes, one class) can go to the same agents,
 * so each class is worked out once per pass and shared by its jobs.
 */
export class EligibilityClasses {
  private readonly byQueue = new Map<string, AgentState[]>();
  /** queue → task → sorted tags (and priority class, in queues with a dedicated agent) → class. */
  private readonly classes = new Map<string, Map<string, Map<string, EligibilityClass>>>();
  /**
   * Queues an agent dedicated to some priority classes takes: there eligibility depends on the
   * job's class too (so each class also makes its own reservations).
   */
  private readonly dedicated: ReadonlySet<string>;

  constructor(
    capacities: readonly AgentCapacity[],
    agents: readonly AgentState[],
    /** An agent's free capacity when the pass began. */
    private readonly initial: (agent: AgentState) => Capacity,
  ) {
    this.dedicated = dedicatedQueues(capacities);
    for (const agent of agents) {
      for (const queue of agent.source.queues) {
        let list = this.byQueue.get(queue);
        if (!list) this.byQueue.set(queue, (list = []));
        list.push(agent);
      }
    }
  }

  /** The job's class, made the first time a job of it is placed. */
  of(job: PendingJob): EligibilityClass {
    const tags = job.constraints.tags;
    const sortedTags = tags.length === 0 ? '' : tags.length === 1 ? tags[0]! : [...tags].sort().join('\u0001');
    const tagsKey = this.dedicated.has(job.queue) ? `${job.priority}\u0002${sortedTags}` : sortedTags;
    let byTask = this.classes.get(job.queue);
    if (!byTask) this.classes.set(job.queue, (byTask = new Map()));
    let byTags = byTask.get(job.task);
    if (!byTags) byTask.set(job.task, (byTags = new Map()));
    let cls = byTags.get(tagsKey);
    if (!cls) {
      cls = this.make(job.queue, job.task, tags.length > 1 ? [...new Set(tags)].sort() : tags, job.priority);
      byTags.set(tagsKey, cls);
    }
    return cls;
  }

  private make(queue: string, task: string, tags: readonly string[], priority: PriorityClass): EligibilityClass {
    const ofQueue = this.byQueue.get(queue) ?? [];
    let eligible: AgentState[] = [];
    let ineligible: PendingReason | null = null;
    if (ofQueue.length === 0) {
      ineligible = reasons.noAgentForQueue(queue);
    } else {
      const serving = ofQueue.filter((a) => a.source.tasks.has(task));
      if (serving.length === 0) {
        ineligible = reasons.noAgentForTask(queue, task);
      } else {
        eligible = tags.length === 0 ? serving : serving.filter((a) => tags.every((t) => tagSet(a).has(t)));
        if (eligible.length === 0) {
          const missing = tags.filter((t) => !serving.some((a) => tagSet(a).has(t)));
          ineligible = reasons.noAgentWithTags(queue, task, missing.length > 0 ? missing : tags);
        } else if (this.dedicated.has(queue)) {
          const tagged = eligible;
          eligible = tagged.filter((a) => servesPriority(a.source, priority));
          if (eligible.length === 0)
            ineligible = noAgentForPriority(
              queue,
              task,
              priority,
              tagged.map((a) => a.source),
            );
        }
      }
    }
    return new EligibilityClass(queue, task, tags, eligible, ineligible, this.initial);
  }
}

function tagSet(agent: AgentState): ReadonlySet<string> {
  return (agent.tagSet ??= new Set(agent.source.tags));
}
