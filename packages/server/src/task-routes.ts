import type { Store, TaskRoute } from '@baton/store';
import { ValidationError, DEFAULT_QUEUE } from '@baton/core';

/** The built-in command task (agents started with --allow-commands serve it). */
const COMMAND_TASK = 'command';

/**
 * Which tasks are served on which queues, as agents announced them. Cached; a miss
 * re-reads the store once, so an agent that registered through another server counts.
 */
export class TaskRoutes {
  private routes = new Map<string, Set<string>>();
  private loadedAt = 0;

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 5000,
  ) {}

  /** The queue a job of `task` goes to, checking that some agent serves the pair. */
  async resolveQueue(task: string, queue: string | undefined): Promise<string> {
    if (Date.now() - this.loadedAt > this.ttlMs) await this.refresh();
    let queues = this.routes.get(task);
    if (!queues || (queue !== undefined && !queues.has(queue))) {
      await this.refresh();
      queues = this.routes.get(task);
    }
    if (!queues) {
      const known = [...this.routes.keys()].sort();
      if (task === COMMAND_TASK) {
        throw new ValidationError(
          'no agent runs command tasks: start one with `baton agent --allow-commands`',
          { task, knownTasks: known },
          'UNKNOWN_TASK',
        );
      }
      throw new ValidationError(
        `unknown task "${task}": no agent has registered it${known.length ? ` (known tasks: ${known.slice(0, 20).join(', ')})` : ''}`,
        { task, knownTasks: known },
        'UNKNOWN_TASK',
      );
    }
    if (queue === undefined)
      return queues.has(DEFAULT_QUEUE) ? DEFAULT_QUEUE : ([...queues].sort()[0] ?? DEFAULT_QUEUE);
    if (!queues.has(queue)) {
      const allQueues = new Set([...this.routes.values()].flatMap((s) => [...s]));
      const what = allQueues.has(queue)
        ? `task "${task}" is not served on queue "${queue}"`
        : `unknown queue "${queue}"`;
      throw new ValidationError(
        `${what} (task "${task}" is served on: ${[...queues].sort().join(', ')})`,
        { task, queue },
        'UNKNOWN_QUEUE',
      );
    }
    return queue;
  }

  async list(): Promise<TaskRoute[]> {
    await this.refresh();
    return [...this.routes].flatMap(([task, queues]) => [...queues].map((queue) => ({ task, queue })));
  }

  private async refresh(): Promise<void> {
    const routes = new Map<string, Set<string>>();
    for (const { task, queue } of await this.store.taskRoutes()) {
      let set = routes.get(task);
      if (!set) routes.set(task, (set = new Set()));
      set.add(queue);
    }
    this.routes = routes;
    this.loadedAt = Date.now();
  }
}
