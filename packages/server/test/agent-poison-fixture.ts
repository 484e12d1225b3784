import type { NewJob } from '@baton/core';
import { newJobId } from '@baton/core';

/** A value nested `depth` levels deep: JSON (as stored) takes it, msgpack's encoder does not. */
export function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/**
 * A `demo.echo` job whose payload cannot be encoded for an agent, made as the store would hold
 * it: written straight to the store, past any limit the HTTP API applies.
 */
export function poisonJob(depth = 3000): NewJob {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue: 'default',
    task: 'demo.echo',
    owner: 'local',
    payload: nested(depth),
    priority: 'normal',
    priorityLevel: 0,
    resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 },
    constraints: { tags: [] },
    maxAttempts: 3,
    backoffMs: 0,
    timeoutMs: null,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
  };
}
