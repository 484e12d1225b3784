import type { Job } from '@baton/core';
import { ConflictError, NotFoundError } from '@baton/core';
import type { PostgresContext } from './context.js';
import type { StepJobRow } from './rows.js';
import { jobFromRow } from './rows.js';
import * as jobsSql from './sql/jobs.js';
import * as workflowsSql from './sql/workflows.js';
import { advance, lockWorkflows, publishAdvance } from './workflow-advance.js';
import { rerunOnDeadlock } from './deadlocks.js';

/**
 * `cancel` of a workflow's step (jobs.ts hands it over: the plain cancel statement leaves
 * steps alone): its workflow locked first, then the job cancelled and the workflow advanced
 * as for any step that ended without success, in one transaction.
 */
export async function cancelStep(ctx: PostgresContext, id: string, workflowId: string): Promise<Job> {
  const now = ctx.clock();
  const done = await rerunOnDeadlock(() =>
    ctx.transaction(async (client) => {
      const locked = await lockWorkflows(ctx, client, [workflowId]);
      const [cancelled] = await ctx.run<{ id: string }>(workflowsSql.cancelStep, [now, id], client);
      if (!cancelled) return null;
      const events = await advance(ctx, client, locked, [{ jobId: id, workflowId, state: 'cancelled' }], now);
      const [row] = await ctx.run<StepJobRow>(jobsSql.getJob, [id], client);
      return { row: row!, events };
    }),
  );
  if (!done) {
    // It ended between the first look and the lock.
    const [current] = await ctx.run<StepJobRow>(jobsSql.getJob, [id]);
    if (!current) throw new NotFoundError(`job ${id} not found`, 'JOB_NOT_FOUND');
    throw new ConflictError(`job ${id} is already ${current.state}`, 'JOB_FINISHED', { state: current.state });
  }
  // As for a plain job: agent_id names the agent holding it, which must stop.
  ctx.relay.publish({ type: 'cancelled', jobId: id, agentId: done.row.agent_id });
  publishAdvance(ctx, done.events);
  return jobFromRow(done.row);
}
