import type { WorkflowDetailView, WorkflowStepView, WorkflowView } from '@baton/client';
import { listText, table } from './format.js';

/** `2 succeeded, 1 running, 3 blocked`: how many steps are in each state, most advanced first. */
export function stepCountsText(steps: readonly WorkflowStepView[]): string {
  const order = ['succeeded', 'failed', 'cancelled', 'skipped', 'running', 'assigned', 'queued', 'delayed', 'blocked'];
  const counts = new Map<string, number>();
  for (const s of steps) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  return order
    .filter((state) => counts.has(state))
    .map((state) => `${counts.get(state)} ${state}`)
    .join(', ');
}

/** A workflow's one-line header: id, name, state, policy and step counts. */
export function workflowHeader(w: WorkflowView, steps: readonly WorkflowStepView[]): string {
  const name = w.name ? ` ${w.name}` : '';
  const finished = w.counts.succeeded + w.counts.failed + w.counts.cancelled + w.counts.skipped;
  const counts = stepCountsText(steps);
  return `workflow ${w.id}${name}: ${w.state} (${w.onFailure}), ${finished}/${w.counts.steps} steps finished${counts ? ` — ${counts}` : ''}`;
}

/**
 * Each step's depth in the graph: 0 for a step that needs nothing, else one more than its
 * deepest need. Steps come in creation order and a need is always created before the step that
 * needs it (the API refuses cycles), so one pass suffices; a need on another page counts as 0.
 */
function depths(steps: readonly WorkflowStepView[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of steps)
    out.set(
      s.step,
      s.needs.reduce((d, n) => Math.max(d, (out.get(n) ?? -1) + 1), 0),
    );
  return out;
}

/**
 * The steps as a tree-like table: each step indented by its depth, with its state, task,
 * attempts, needs, job id and error. `maxRows` cuts a long list (a live view must fit the
 * terminal), unfinished steps kept before finished ones.
 */
export function stepsTable(steps: readonly WorkflowStepView[], maxRows = Infinity): string {
  const depth = depths(steps);
  let shown = [...steps];
  let more = '';
  if (shown.length > maxRows) {
    const final = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);
    const order = [...shown.filter((s) => !final.has(s.state)), ...shown.filter((s) => final.has(s.state))];
    const kept = new Set(order.slice(0, Math.max(1, maxRows)));
    shown = shown.filter((s) => kept.has(s));
    more = `\n… ${steps.length - shown.length} more steps (run without a terminal, or with --json, to see all)`;
  }
  const rows = shown.map((s) => [
    `${'  '.repeat(depth.get(s.step) ?? 0)}${s.step}`,
    s.state,
    s.task,
    String(s.attempts),
    listText(s.needs),
    s.jobId,
    s.error ? `${s.error.code}: ${s.error.message}` : '',
  ]);
  return table(['STEP', 'STATE', 'TASK', 'ATTEMPTS', 'NEEDS', 'JOB', 'ERROR'], rows) + more;
}

/** The whole plain view of a workflow: its header and every step. */
export function workflowText(w: WorkflowDetailView, maxRows = Infinity): string {
  return `${workflowHeader(w, w.steps)}\n${stepsTable(w.steps, maxRows)}`;
}

/**
 * Shows a workflow while it runs: redrawn in place on a terminal (the cursor moved back over
 * the last drawing), one header line per change otherwise (logs, CI), like ProgressBar.
 */
export class WorkflowDisplay {
  private lines = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  update(w: WorkflowDetailView): void {
    if (!this.out.isTTY) {
      this.out.write(`${workflowHeader(w, w.steps)}\n`);
      return;
    }
    // Room for the header and the cut-off line; a terminal that will not say gets 24 rows.
    const rows = Math.max(5, (this.out.rows || 24) - 3);
    const text = workflowText(w, rows);
    const up = this.lines > 0 ? `\x1b[${this.lines}A\r\x1b[J` : '';
    this.out.write(`${up}${text}\n`);
    this.lines = text.split('\n').length;
  }
}
