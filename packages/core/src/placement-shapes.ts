import type { Resources } from './job.js';
import type { AgentState } from './placement-fleet.js';

/**
 * Resource shapes within a pass: what a job needs against an agent's free room, and the shapes
 * that already failed (free capacity only shrinks during a pass, so a job needing at least as
 * much as one of them fails too and skips the search).
 */

/** Failed shapes remembered per class and kind for the "needs at least as much" shortcut. */
const FAILED_SHAPES_KEPT = 8;

/** Whether the job would fit the agent now, were the agent not held. */
export function wouldFit(agent: AgentState, r: Resources): boolean {
  const slots = r.gpus === 0 && agent.hasGpus ? agent.freeSlots - agent.freeGpus.length : agent.freeSlots;
  return (
    slots >= r.slots && agent.freeCpu >= r.cpu && agent.freeMemoryMb >= r.memoryMb && agent.freeGpus.length >= r.gpus
  );
}

/** Whether `r` needs at least as much as one of the shapes, in every dimension. */
export function needsAtLeast(r: Resources, shapes: readonly Resources[]): boolean {
  return shapes.some((f) => r.slots >= f.slots && r.cpu >= f.cpu && r.memoryMb >= f.memoryMb && r.gpus >= f.gpus);
}

export function rememberFailure(r: Resources, shapes: Resources[]): void {
  for (let i = shapes.length - 1; i >= 0; i--) {
    const f = shapes[i]!;
    if (f.slots >= r.slots && f.cpu >= r.cpu && f.memoryMb >= r.memoryMb && f.gpus >= r.gpus) shapes.splice(i, 1);
  }
  shapes.push(r);
  if (shapes.length > FAILED_SHAPES_KEPT) shapes.shift();
}
