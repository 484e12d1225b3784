import type { RedisContext } from './context.js';

/**
 * The events a workflow's advance leaves to publish (scripts/lib/workflow.lua's wf_events):
 * each script that can finish a step returns, per item, 0 or a flat list of 'q', queue (a step
 * released to that queue), 'd', run_at (a step released to wait for its run_at) and 'c', job
 * id, agent id ('' for none; a step cancelled with its workflow). A plain job's item is always
 * 0, so this costs plain transitions one check each.
 */
export function emitWorkflowEvents(ctx: Pick<RedisContext, 'emit'>, lists: Iterable<unknown>): void {
  const queues = new Set<string>();
  let dueAt = Infinity;
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (let i = 0; i < list.length; ) {
      if (list[i] === 'q') {
        queues.add(String(list[i + 1]));
        i += 2;
      } else if (list[i] === 'd') {
        dueAt = Math.min(dueAt, Number(list[i + 1]));
        i += 2;
      } else {
        const agentId = String(list[i + 2] ?? '');
        ctx.emit({ type: 'cancelled', jobId: String(list[i + 1]), agentId: agentId === '' ? null : agentId });
        i += 3;
      }
    }
  }
  if (queues.size > 0) ctx.emit({ type: 'enqueued', queues: [...queues] });
  if (dueAt < Infinity) ctx.emit({ type: 'changed', dueAt });
}

/** Every `width`-th value of a flat batch reply from `at`: the per-item events of emitWorkflowEvents. */
export function* eventLists(replies: readonly unknown[], width: number, at: number): Iterable<unknown> {
  for (let i = at; i < replies.length; i += width) {
    const v = replies[i];
    if (v !== 0) yield v;
  }
}
