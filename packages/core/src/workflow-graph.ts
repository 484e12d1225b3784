import { ValidationError } from './errors.js';
import { quoteInput } from './schemas.js';

/** A step as the graph check sees it: its id and the ids it needs. */
export interface StepLinks {
  id: string;
  needs: readonly string[];
}

/**
 * Checks a workflow's steps form a DAG: ids unique, every need a known step (one of `steps`,
 * or of `existing` when steps are added to a running workflow), no step needing itself, no
 * cycle. Throws a `ValidationError` naming the offending step (and the cycle), so nothing is
 * stored. Iterative, so 10 000 steps in a chain cannot overflow the stack.
 */
export function checkWorkflowGraph(steps: readonly StepLinks[], existing: ReadonlySet<string> = new Set()): void {
  const byId = new Map<string, StepLinks>();
  steps.forEach((step, i) => {
    if (byId.has(step.id) || existing.has(step.id)) {
      throw new ValidationError(
        `steps[${i}]: step id ${quoteInput(step.id)} is used twice`,
        { step: step.id },
        'DUPLICATE_STEP',
      );
    }
    byId.set(step.id, step);
  });
  steps.forEach((step, i) => {
    const seen = new Set<string>();
    for (const need of step.needs) {
      if (need === step.id) {
        throw new ValidationError(
          `steps[${i}] (${quoteInput(step.id)}) needs itself`,
          { step: step.id, cycle: [step.id, step.id] },
          'WORKFLOW_CYCLE',
        );
      }
      if (seen.has(need)) {
        throw new ValidationError(
          `steps[${i}] (${quoteInput(step.id)}) names need ${quoteInput(need)} twice`,
          { step: step.id },
          'DUPLICATE_NEED',
        );
      }
      seen.add(need);
      if (!byId.has(need) && !existing.has(need)) {
        throw new ValidationError(
          `steps[${i}] (${quoteInput(step.id)}) needs unknown step ${quoteInput(need)}`,
          { step: step.id, need },
          'UNKNOWN_STEP',
        );
      }
    }
  });
  const cycle = findCycle(byId);
  if (cycle) {
    const shown = cycle.map((id) => quoteInput(id, 40)).join(' → ');
    throw new ValidationError(`the steps form a cycle: ${shown}`, { step: cycle[0], cycle }, 'WORKFLOW_CYCLE');
  }
}

/** A cycle among the new steps (existing ones cannot close one: they never need new steps), first node repeated at the end. */
function findCycle(byId: ReadonlyMap<string, StepLinks>): string[] | null {
  const DONE = 2;
  const ACTIVE = 1;
  const mark = new Map<string, number>();
  for (const root of byId.keys()) {
    if (mark.has(root)) continue;
    // Depth-first with an explicit stack of [step, index of the next need to visit].
    const path: [string, number][] = [[root, 0]];
    mark.set(root, ACTIVE);
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const needs = byId.get(top[0])!.needs;
      if (top[1] >= needs.length) {
        mark.set(top[0], DONE);
        path.pop();
        continue;
      }
      const next = needs[top[1]++]!;
      if (!byId.has(next)) continue;
      const state = mark.get(next);
      if (state === ACTIVE) {
        const from = path.findIndex(([id]) => id === next);
        // Written in the direction work flows: a need before the step that needs it.
        return [...path.slice(from).map(([id]) => id), next].reverse();
      }
      if (state === undefined) {
        mark.set(next, ACTIVE);
        path.push([next, 0]);
      }
    }
  }
  return null;
}

/**
 * The steps to run again when a workflow is retried: `from` and every step that needs it,
 * directly or not; without `from`, every step that did not succeed and their dependents.
 * `dependents` maps a step to the steps that need it.
 */
export function stepsToRerun(roots: Iterable<string>, dependents: (step: string) => Iterable<string>): Set<string> {
  const out = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const step = stack.pop()!;
    if (out.has(step)) continue;
    out.add(step);
    for (const d of dependents(step)) if (!out.has(d)) stack.push(d);
  }
  return out;
}
