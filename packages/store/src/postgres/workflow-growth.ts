import type { JobState, LeaseRef, NewStep, Workflow, WorkflowStep } from '@baton/core';
import {
  ConflictError,
  NotFoundError,
  UNSUCCESSFUL_STATES,
  checkWorkflowGraph,
  finalWorkflowState,
  skippedError,
  unfinishedSteps,
} from '@baton/core';
import { initialState } from '../rules/enqueue-rules.js';
import { leaseOf } from '../rules/lease-rules.js';
import { checkAddedSteps, refusalError } from '../rules/workflow-rules.js';
import type { PostgresContext } from './context.js';
import { rerunOnDeadlock } from './deadlocks.js';
import { enqueueColumns, toJson } from './rows.js';
import * as growthSql from './sql/workflow-growth.js';
import * as advanceSql from './sql/workflow-advance.js';
import * as workflowsSql from './sql/workflows.js';
import type { AdvanceEvents } from './workflow-advance.js';
import { lockWorkflows, publishAdvance } from './workflow-advance.js';
import type { WorkflowRow, WorkflowStepRow } from './workflow-rows.js';
import { countsOf, stepFromRow, workflowFromRow } from './workflow-rows.js';

/** An existing step a new one names (its id clashes, or it is a need). */
interface NamedStep {
  step: string;
  job_id: string;
  state: JobState;
}

/** What becomes of each new step, decided from its needs' states before anything is written. */
interface Plan {
  /** Needs not yet succeeded, per new step (in the given order). */
  needsLeft: number[];
  /** The first state each new step is inserted in. */
  states: ('blocked' | 'queued' | 'delayed')[];
  /** New steps that end `skipped` at once, each with its error (JSON text). */
  skipped: Map<string, string>;
}

/**
 * Decides the new steps' fates: a step whose needs have all succeeded is released at once
 * (`queued`, or `delayed` until its runAt); one with a need that ended without success, or
 * that needs a new step so skipped, is skipped; the rest wait `blocked`. The skip cascade
 * stays among the new steps: under the workflow's lock no existing step can need a new one,
 * and an existing step's unsuccessful end has already skipped its existing dependents. Its
 * error names a need as the advance's walk does (advanceSql.unfinishedDependents): one that
 * ended on its own before one that was skipped, then by step id.
 */
function plan(steps: readonly NewStep[], existing: ReadonlyMap<string, NamedStep>, now: number): Plan {
  const needsLeft = steps.map((s) => s.needs.filter((n) => existing.get(n)?.state !== 'succeeded').length);
  const states = steps.map((s, i) => (needsLeft[i]! > 0 ? ('blocked' as const) : initialState(s.job, now)));
  const byStep = new Map(steps.map((s) => [s.step, s]));
  const fate = new Map<string, JobState>();
  const skipped = new Map<string, string>();
  // Visits new steps needs first (checkWorkflowGraph has ruled out cycles).
  const visit = (step: string): void => {
    const s = byStep.get(step);
    if (!s || fate.has(step)) return;
    const causes: { step: string; state: JobState }[] = [];
    for (const need of s.needs) {
      visit(need);
      const state = existing.get(need)?.state ?? fate.get(need);
      if (state !== undefined && UNSUCCESSFUL_STATES.has(state)) causes.push({ step: need, state });
    }
    causes.sort((a, b) => Number(a.state === 'skipped') - Number(b.state === 'skipped') || cmp(a.step, b.step));
    const cause = causes[0];
    fate.set(step, cause ? 'skipped' : 'blocked');
    if (cause) skipped.set(s.job.id, toJson(skippedError(cause.step, cause.state)));
  };
  for (const s of steps) visit(s.step);
  return { needsLeft, states, skipped };
}

/** Byte order, as the C collation of the step column sorts. */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * addSteps in PostgreSQL: one transaction that locks the workflow row first, like every
 * transaction changing a workflow's steps, so siblings finishing on other servers advance it
 * before or after the growth, never during it: a need that succeeds after the commit finds the
 * new edges and releases the new steps; one that succeeded before is read as succeeded. The
 * checks come in the contract's order, all before the first write, so a refusal changes
 * nothing. Then the new steps' jobs, step rows and edges in one statement (the counters move
 * by its triggers, as for an enqueue), the skipped ones skipped and the released ones given
 * their inputs, and the workflow's counts written. Run again whole if PostgreSQL ends it as a
 * deadlock's victim (deadlocks.ts: the counter rows it moves are shared).
 */
export async function addSteps(
  ctx: PostgresContext,
  id: string,
  by: LeaseRef,
  steps: NewStep[],
): Promise<{ workflow: Workflow; steps: WorkflowStep[] }> {
  const now = ctx.clock();
  const out = await rerunOnDeadlock(() =>
    ctx.transaction(async (client) => {
      const row = (await lockWorkflows(ctx, client, [id])).get(id);
      if (!row) throw new NotFoundError(`workflow ${id} not found`, 'WORKFLOW_NOT_FOUND');
      if (row.state !== 'running') {
        throw new ConflictError(`workflow ${id} has already ended (${row.state})`, 'WORKFLOW_FINISHED', {
          state: row.state,
        });
      }
      const [byRow] = await ctx.run<{
        workflow_id: string | null;
        state: string;
        lease_token: string | null;
        lease_expires_at: number | null;
      }>(growthSql.growingJob, [by.jobId], client);
      if (byRow?.workflow_id !== id) {
        throw new ConflictError(`job ${by.jobId} is not a step of workflow ${id}`, 'NOT_A_STEP');
      }
      const refused = refusalError(by, leaseOf(byRow));
      if (refused) throw refused;
      checkAddedSteps(workflowFromRow(row), steps);

      // Only the existing steps these name (clashing ids, needs): never the whole workflow.
      const added = new Set(steps.map((s) => s.step));
      const names = new Set(steps.flatMap((s) => [s.step, ...s.needs.filter((n) => !added.has(n))]));
      const named = await ctx.run<NamedStep>(growthSql.namedSteps, [id, [...names]], client);
      const existing = new Map(named.map((n) => [n.step, n]));
      checkWorkflowGraph(
        steps.map((s) => ({ id: s.step, needs: s.needs })),
        new Set(existing.keys()),
      );

      const { needsLeft, states, skipped } = plan(steps, existing, now);
      const jobIdOf = new Map([...existing.values()].map((e) => [e.step, e.job_id]));
      for (const s of steps) jobIdOf.set(s.step, s.job.id);
      const edges = steps.flatMap((s) => s.needs.map((need) => [jobIdOf.get(need)!, s.job.id] as const));
      if (steps.length > 0) {
        await ctx.run(
          workflowsSql.insertSteps,
          [
            ...enqueueColumns(steps.map((s) => s.job)),
            states,
            steps.map((s) => s.step),
            steps.map((s) => JSON.stringify(s.needs)),
            id,
            edges.map(([need]) => need),
            edges.map(([, dependent]) => dependent),
            needsLeft,
          ],
          client,
        );
      }
      if (skipped.size > 0) {
        await ctx.run(advanceSql.skipSteps, [[...skipped.keys()], [...skipped.values()], now], client);
      }
      // Released steps with needs get their needs' results; those without have `{}` already.
      const withInputs = steps.filter((s, i) => states[i] !== 'blocked' && s.needs.length > 0).map((s) => s.job.id);
      if (withInputs.length > 0) await ctx.run(growthSql.setInputs, [withInputs], client);

      const counts = countsOf(row);
      counts.steps += steps.length;
      counts.skipped += skipped.size;
      // `by` is leased, so the workflow keeps an unfinished step; checked all the same, as the advance does.
      const ended = unfinishedSteps(counts) === 0;
      const [saved] = await ctx.run<WorkflowRow>(
        growthSql.saveGrown,
        [
          id,
          counts.steps,
          counts.skipped,
          ended ? finalWorkflowState(counts, row.cancel_requested) : row.state,
          ended ? now : row.finished_at,
          now,
        ],
        client,
      );
      if (!saved) throw new Error(`workflow ${id} vanished while locked`);
      const created = await ctx.run<WorkflowStepRow>(growthSql.stepsByJob, [steps.map((s) => s.job.id)], client);
      const events: AdvanceEvents = {
        released: steps.flatMap((s, i) => {
          const state = states[i]!;
          return state === 'blocked' ? [] : [{ queue: s.job.queue, state, runAt: s.job.runAt }];
        }),
        cancelled: [],
      };
      return { workflow: workflowFromRow(saved), steps: created.map(stepFromRow), events };
    }),
  );
  publishAdvance(ctx, out.events);
  return { workflow: out.workflow, steps: out.steps };
}
