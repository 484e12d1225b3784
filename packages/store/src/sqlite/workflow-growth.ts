import type { JobState, LeaseRef, NewStep, Workflow, WorkflowStep } from '@baton/core';
import { ConflictError, UNSUCCESSFUL_STATES, checkWorkflowGraph } from '@baton/core';
import { leaseOf } from '../rules/lease-rules.js';
import { checkAddedSteps, refusalError } from '../rules/workflow-rules.js';
import type { SqliteContext } from './context.js';
import { OwnerTally } from './owner-tally.js';
import { rowFromNewJob } from './rows.js';
import type { JobRow } from './rows.js';
import { WorkflowAdvance, noneFinished } from './workflow-advance.js';
import type { StepPageRow, WorkflowRow } from './workflow-rows.js';
import { stepFromRow, workflowFromRow } from './workflow-rows.js';
import { workflowRow } from './workflows.js';

/** addSteps in SQLite: a running step grows its workflow (a campaign's next iteration). */
export function addSteps(
  ctx: SqliteContext,
  id: string,
  by: LeaseRef,
  steps: NewStep[],
): { workflow: Workflow; steps: WorkflowStep[] } {
  const now = ctx.clock();
  const { wf, sql } = ctx;
  const advance = new WorkflowAdvance(ctx, now);
  const result = ctx.db.transaction(() => {
    const row = workflowRow(ctx, id);
    if (row.state !== 'running') {
      throw new ConflictError(`workflow ${id} has already ended (${row.state})`, 'WORKFLOW_FINISHED', {
        state: row.state,
      });
    }
    const byRow = ctx.sql.getJob.get(by.jobId) as JobRow | undefined;
    if (byRow?.workflow_id !== id) {
      throw new ConflictError(`job ${by.jobId} is not a step of workflow ${id}`, 'NOT_A_STEP');
    }
    const refused = refusalError(by, leaseOf(byRow));
    if (refused) throw refused;
    checkAddedSteps(workflowFromRow(row), steps);
    // The existing steps these name (clashing ids, needs): read for these names only, never the whole workflow.
    const added = new Set(steps.map((s) => s.step));
    const existing = new Map<string, { id: string; state: JobState }>();
    for (const s of steps) {
      for (const name of [s.step, ...s.needs]) {
        if (existing.has(name) || (name !== s.step && added.has(name))) continue;
        const found = wf.stepState.get(id, name) as { id: string; state: JobState } | undefined;
        if (found) existing.set(name, found);
      }
    }
    checkWorkflowGraph(
      steps.map((s) => ({ id: s.step, needs: s.needs })),
      new Set(existing.keys()),
    );
    wf.addStepCount.run(steps.length, now, id);
    const jobIds = new Map([...existing].map(([step, e]) => [step, e.id]));
    for (const s of steps) jobIds.set(s.step, s.job.id);
    const counts = new OwnerTally();
    const toRelease: { id: string; queue: string }[] = [];
    const unsuccessfulNeeds = new Map<string, { step: string; state: JobState }>();
    for (const { step, needs, job } of steps) {
      const left = needs.filter((n) => existing.get(n)?.state !== 'succeeded').length;
      wf.insertStepJob.run({ ...rowFromNewJob(job, 'blocked'), workflow_id: id });
      counts.move(job.owner, job.queue, null, 'blocked', job.resources);
      wf.insertStep.run(job.id, id, step, JSON.stringify(needs), left, job.maxAttempts);
      for (const need of needs) {
        wf.insertEdge.run(jobIds.get(need), job.id);
        const e = existing.get(need);
        if (e && UNSUCCESSFUL_STATES.has(e.state)) unsuccessfulNeeds.set(e.id, { step: need, state: e.state });
      }
      if (left === 0) toRelease.push({ id: job.id, queue: job.queue });
    }
    counts.flush(sql);
    // Skipped first: a step is released only while still blocked.
    const finished = noneFinished();
    for (const [needId, need] of unsuccessfulNeeds) advance.skipFrom(needId, need.step, need.state, finished);
    for (const r of toRelease) advance.release(r.id, r.queue);
    advance.count(id, finished);
    advance.settle();
    const created = steps.map((s) => wf.stepPageRow.get(s.job.id) as StepPageRow);
    return { workflow: workflowFromRow(wf.getWorkflow.get(id) as WorkflowRow), steps: created.map(stepFromRow) };
  })();
  advance.emit();
  return result;
}
