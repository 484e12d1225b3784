import type { JobError, JobState } from '@baton/core';
import { LEASED_STATES, failFastError, finalWorkflowState, skippedError, unfinishedSteps } from '@baton/core';
import type { SqliteContext } from './context.js';
import { toJson } from './rows.js';
import type { StepRow, WorkflowRow } from './workflow-rows.js';
import { workflowFromRow } from './workflow-rows.js';

/** Steps that reached each final state in one advance, added to the workflow's counts at once. */
export interface FinishedCounts {
  succeeded: number;
  failed: number;
  cancelled: number;
  skipped: number;
}

export const noneFinished = (): FinishedCounts => ({ succeeded: 0, failed: 0, cancelled: 0, skipped: 0 });

/**
 * Advances workflows inside the transaction that finished their steps (complete, release,
 * expireLeases, cancel), so a step's end and what it releases, skips or cancels commit
 * together or not at all. Reads only the finished step's dependents (and, for fail-fast, the
 * workflow's unfinished steps), never the whole workflow. The events (queues with released
 * steps, cancelled leased steps) go out after the transaction, through {@link emit}.
 */
export class WorkflowAdvance {
  private readonly queues = new Set<string>();
  private readonly cancelled: { jobId: string; agentId: string | null }[] = [];
  /** Steps finished per workflow in this transaction, written once each by {@link settle}. */
  private readonly finishedIn = new Map<string, FinishedCounts>();

  constructor(
    private readonly ctx: SqliteContext,
    private readonly now: number,
  ) {}

  /** Step `jobId` of `workflowId` has just moved to final state `state`. */
  finished(jobId: string, workflowId: string, state: JobState): void {
    const counts = noneFinished();
    if (state === 'succeeded') {
      counts.succeeded++;
      this.releaseDependents(jobId);
    } else if (state === 'failed' || state === 'cancelled' || state === 'skipped') {
      counts[state]++;
      const step = (this.ctx.wf.getStep.get(jobId) as StepRow | undefined)?.step ?? jobId;
      this.skipFrom(jobId, step, state, counts);
      const workflow = this.ctx.wf.getWorkflow.get(workflowId) as WorkflowRow | undefined;
      if (workflow?.on_failure === 'fail-fast' && workflow.state === 'running' && !workflow.cancel_requested) {
        this.cancelUnfinished(workflowId, failFastError(step, state), counts);
      }
    }
    this.count(workflowId, counts);
  }

  /** Cancels every unfinished step of a workflow with `error`, counting them. */
  cancelUnfinished(workflowId: string, error: JobError, counts: FinishedCounts): void {
    const { wf } = this.ctx;
    const text = toJson(error);
    const steps = wf.unfinishedSteps.all(workflowId) as { id: string; state: JobState; agent_id: string | null }[];
    for (const step of steps) {
      wf.cancelStep.run({ error: text, now: this.now, id: step.id });
      counts.cancelled++;
      // Only an agent has to hear of it; a cascade over thousands of waiting steps sends nothing for them.
      if (LEASED_STATES.has(step.state)) this.cancelled.push({ jobId: step.id, agentId: step.agent_id });
    }
  }

  /** Adds `counts` to the workflow's, when the transaction settles (siblings of a batch: one write). */
  count(workflowId: string, counts: FinishedCounts): void {
    const sum = this.finishedIn.get(workflowId);
    if (!sum) {
      this.finishedIn.set(workflowId, counts);
      return;
    }
    sum.succeeded += counts.succeeded;
    sum.failed += counts.failed;
    sum.cancelled += counts.cancelled;
    sum.skipped += counts.skipped;
  }

  /**
   * Writes each workflow's counts and ends those with no step left unfinished. Call last in the
   * transaction that finished the steps.
   */
  settle(): void {
    for (const [id, counts] of this.finishedIn) {
      const row = this.ctx.wf.countFinished.get({ id, now: this.now, ...counts }) as WorkflowRow | undefined;
      if (!row || row.state !== 'running') continue;
      const workflow = workflowFromRow(row);
      if (unfinishedSteps(workflow.counts) > 0) continue;
      const state = finalWorkflowState(workflow.counts, row.cancel_requested === 1);
      this.ctx.wf.endWorkflow.run({ state, now: this.now, id });
    }
    this.finishedIn.clear();
  }

  /** Tells schedulers of released steps and agents of cancelled ones. Call after the transaction. */
  emit(): void {
    if (this.queues.size > 0) this.ctx.events.emit({ type: 'enqueued', queues: [...this.queues] });
    for (const c of this.cancelled) this.ctx.events.emit({ type: 'cancelled', ...c });
  }

  /** Each blocked dependent has one need fewer left; those with none left are released. */
  private releaseDependents(jobId: string): void {
    const { wf } = this.ctx;
    for (const dep of wf.blockedDependents.all(jobId) as { id: string; queue: string }[]) {
      const { needs_left: left } = wf.needSucceeded.get(dep.id) as { needs_left: number };
      if (left > 0) continue;
      this.release(dep.id, dep.queue);
    }
  }

  /** A step whose needs have all succeeded: queued now, their results as its inputs. */
  release(jobId: string, queue: string): void {
    const { wf } = this.ctx;
    wf.setInputs.run(jobId, jobId);
    wf.releaseStep.run({ now: this.now, id: jobId });
    this.queues.add(queue);
  }

  /** Every blocked step that needs `jobId` (which did not succeed), directly or not, ends skipped. */
  skipFrom(jobId: string, step: string, state: JobState, counts: FinishedCounts): void {
    const { wf } = this.ctx;
    const stack: [string, string, JobState][] = [[jobId, step, state]];
    for (let next = stack.pop(); next; next = stack.pop()) {
      const [needId, needStep, needState] = next;
      const error = toJson(skippedError(needStep, needState));
      for (const dep of wf.blockedDependents.all(needId) as { id: string; step: string }[]) {
        wf.skipStep.run({ error, now: this.now, id: dep.id });
        counts.skipped++;
        stack.push([dep.id, dep.step, 'skipped']);
      }
    }
  }
}
