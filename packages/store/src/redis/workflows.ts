import type { LeaseRef, NewStep, NewWorkflow, Workflow, WorkflowStep } from '@baton/core';
import { ConflictError, NotFoundError } from '@baton/core';
import type { WorkflowListQuery, WorkflowPage, Workflows } from '../workflows.js';
import type { RedisContext } from './context.js';
import { hashOf } from './job-hash.js';
import { AFTER_SEP, SEP } from './keys.js';
import { callScript } from './scripts.js';
import { emitWorkflowEvents } from './workflow-events.js';
import { addSteps } from './workflow-growth.js';
import { stepOfHash, stepStates, stepsArgument, workflowFields, workflowOfHash } from './workflow-hash.js';
import { enqueuedEvent } from '../rules/enqueue-rules.js';

/**
 * Workflows in Redis. Creating, cancelling, retrying and growing are one script each
 * (create-workflow.lua, cancel-workflow.lua, retry-workflow.lua, add-steps.lua, the last
 * called from workflow-growth.ts); advancing is part of the scripts that finish a step
 * (scripts/lib/workflow.lua). Reads are plain commands.
 */
export function redisWorkflows(ctx: RedisContext): Workflows {
  const k = ctx.keys;

  const getWorkflow = async (id: string): Promise<Workflow | null> => {
    const h = hashOf(await ctx.client.hgetall(k.workflow(id)));
    return h.id === undefined ? null : workflowOfHash(h);
  };

  return {
    async createWorkflow(w: NewWorkflow): Promise<{ workflow: Workflow; created: boolean }> {
      const keys = [
        ...k.jobIndexes,
        k.byQueue,
        k.byOwner,
        k.all,
        k.queues,
        k.workflowIdempotency,
        k.workflowsAll,
        k.workflowsByOwner,
        k.workflowsByState,
      ];
      const idem = w.idempotencyKey === null ? '' : `${w.owner}${SEP}${w.idempotencyKey}`;
      const states = stepStates(w, ctx.clock());
      const args = [idem, stepsArgument(w.steps, states), ...workflowFields(w)];
      const [created, flat] = (await callScript(ctx.client, 'create-workflow', keys, args)) as [number, unknown];
      const workflow = workflowOfHash(hashOf(flat));
      if (created === 1) {
        // Steps without needs are new jobs like enqueue's, announced alike.
        const event = enqueuedEvent(
          w.steps.flatMap((s, i) => (states[i] === 'blocked' ? [] : [{ ...s.job, state: states[i]! }])),
        );
        if (event) ctx.emit(event);
      }
      return { workflow, created: created === 1 };
    },

    getWorkflow,

    async listWorkflows(query: WorkflowListQuery): Promise<WorkflowPage> {
      // The narrowest index the query names; the other filter is checked on what is read.
      const [index, name] = query.state
        ? [k.workflowsByState, `${query.state}${SEP}`]
        : query.owner
          ? [k.workflowsByOwner, `${query.owner}${SEP}`]
          : [k.workflowsAll, ''];
      const min = name === '' ? '-' : `[${name}`;
      let max = query.cursor ? `(${name}${query.cursor}` : name === '' ? '+' : `(${name.slice(0, -1)}${AFTER_SEP}`;
      const wanted = query.limit + 1;
      const found: Workflow[] = [];
      const step = Math.max(wanted, 100);
      while (found.length < wanted) {
        const members = await ctx.client.zrevrangebylex(index, max, min, 'LIMIT', 0, step);
        if (members.length === 0) break;
        const hashes = await ctx.batch((p) => {
          for (const m of members) p.hgetall(k.workflow(m.slice(m.lastIndexOf(SEP) + 1)));
        });
        for (const reply of hashes) {
          const h = hashOf(reply);
          if (h.id === undefined) continue;
          const w = workflowOfHash(h);
          if (query.owner && w.owner !== query.owner) continue;
          if (query.state && w.state !== query.state) continue;
          found.push(w);
          if (found.length === wanted) break;
        }
        if (members.length < step) break;
        max = `(${members[members.length - 1]!}`;
      }
      const more = found.length > query.limit;
      const workflows = found.slice(0, query.limit);
      return { workflows, nextCursor: more ? workflows[workflows.length - 1]!.id : null };
    },

    async workflowSteps(id: string, page: { after?: string; limit: number }): Promise<WorkflowStep[]> {
      if (page.limit <= 0) return [];
      let from = '-inf';
      if (page.after !== undefined) {
        const score = await ctx.client.zscore(k.workflowSteps(id), page.after);
        if (score === null) return [];
        from = `(${score}`;
      }
      const ids = await ctx.client.zrangebyscore(k.workflowSteps(id), from, '+inf', 'LIMIT', 0, page.limit);
      const hashes = await ctx.batch((p) => {
        for (const jobId of ids) p.hgetall(k.job(jobId));
      });
      return hashes.map(hashOf).flatMap((h) => (h.id === undefined ? [] : [stepOfHash(h)]));
    },

    async cancelWorkflow(id: string): Promise<Workflow> {
      const reply = (await callScript(ctx.client, 'cancel-workflow', k.jobIndexes, [ctx.clock(), id])) as unknown[];
      const status = Number(reply[0]);
      if (status === 1) throw new NotFoundError(`workflow ${id} not found`, 'WORKFLOW_NOT_FOUND');
      if (status === 3) {
        const state = String(reply[1]);
        throw new ConflictError(`workflow ${id} has already ended ${state}`, 'WORKFLOW_FINISHED', { state });
      }
      emitWorkflowEvents(ctx, [reply[2]]);
      return workflowOfHash(hashOf(reply[1]));
    },

    async retryWorkflow(id: string, from?: string): Promise<Workflow> {
      const reply = (await callScript(ctx.client, 'retry-workflow', k.jobIndexes, [
        ctx.clock(),
        id,
        from ?? '',
      ])) as unknown[];
      const status = Number(reply[0]);
      if (status !== 0) throw retryError(id, from, status, reply.slice(1).map(String));
      emitWorkflowEvents(ctx, [reply[2]]);
      return workflowOfHash(hashOf(reply[1]));
    },

    addSteps: (id: string, by: LeaseRef, steps: NewStep[]): Promise<{ workflow: Workflow; steps: WorkflowStep[] }> =>
      addSteps(ctx, id, by, steps),
  };
}

/** The error of a refused retry (retry-workflow.lua's status and code). */
function retryError(id: string, from: string | undefined, status: number, [code, step, need]: string[]): Error {
  if (status === 1 && code === 'STEP_NOT_FOUND') {
    return new NotFoundError(`workflow ${id} has no step ${from ?? ''}`, 'STEP_NOT_FOUND');
  }
  if (status === 1) return new NotFoundError(`workflow ${id} not found`, 'WORKFLOW_NOT_FOUND');
  if (code === 'WORKFLOW_RUNNING') return new ConflictError(`workflow ${id} is still running`, code);
  if (code === 'NOTHING_TO_RETRY') return new ConflictError(`every step of workflow ${id} succeeded`, code);
  if (code === 'NEED_UNSUCCESSFUL') {
    return new ConflictError(`step ${step} needs step ${need}, which did not succeed and is not re-run`, code, {
      step,
      need,
    });
  }
  return new Error(`Redis script retry-workflow returned unknown status ${status} (${code}) for workflow ${id}`);
}
