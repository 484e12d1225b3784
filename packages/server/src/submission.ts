import type { JobSubmission, NewJob } from '@baton/core';
import {
  DEFAULT_BACKOFF_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RESOURCES,
  MAX_PAYLOAD_DEPTH,
  PayloadTooLargeError,
  ValidationError,
  describeIssues,
  jobSubmissionSchema,
  nestedDeeperThan,
  newJobId,
} from '@baton/core';
import type { TaskRoutes } from './task-routes.js';
import { checkCommandPayload } from './command-payload.js';

/**
 * Turns one untrusted submission into a job the store can take, or throws a 4xx error that
 * says what is wrong. `path` prefixes field names in messages (`jobs.3`) for bulk requests.
 */
export async function jobFromSubmission(
  body: unknown,
  ctx: { owner: string; routes: TaskRoutes; maxPayloadBytes: number; now: number; path?: string },
): Promise<NewJob> {
  const parsed = jobSubmissionSchema.safeParse(body);
  if (!parsed.success) {
    const { message, details } = describeIssues(parsed.error, ctx.path);
    throw new ValidationError(message, details);
  }
  return jobFromFields(parsed.data, ctx);
}

/** What {@link jobFromFields} takes: a job submission's fields; a workflow step has no time or key of its own. */
export type JobFields = Omit<JobSubmission, 'delayMs' | 'runAt' | 'idempotencyKey'> &
  Partial<Pick<JobSubmission, 'delayMs' | 'runAt' | 'idempotencyKey'>>;

/**
 * Turns fields that passed their schema into a job: payload depth, size and command checks,
 * the task's queue (refusing an unknown task or queue) and every default. Single and bulk
 * submissions and workflow steps all go through here, so a step becomes exactly the job its
 * fields would make on their own.
 */
export async function jobFromFields(
  s: JobFields,
  ctx: { owner: string; routes: TaskRoutes; maxPayloadBytes: number; now: number; path?: string },
): Promise<NewJob> {
  const where = ctx.path ? `${ctx.path}: ` : '';
  const payload = s.payload === undefined ? {} : s.payload;
  // Before anything that walks the payload (JSON.stringify below, the store, msgpack to an agent).
  if (nestedDeeperThan(payload, MAX_PAYLOAD_DEPTH)) {
    throw new ValidationError(
      `${where}payload is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`,
      { path: ctx.path ? `${ctx.path}.payload` : 'payload', maxDepth: MAX_PAYLOAD_DEPTH },
      'PAYLOAD_TOO_DEEP',
    );
  }
  checkCommandPayload(s.task, payload, ctx.path);
  const size = Buffer.byteLength(JSON.stringify(payload));
  if (size > ctx.maxPayloadBytes) {
    throw new PayloadTooLargeError(`${where}payload is ${size} bytes; the limit is ${ctx.maxPayloadBytes}`);
  }
  let runAt = ctx.now;
  if (s.delayMs !== undefined) runAt = ctx.now + s.delayMs;
  else if (typeof s.runAt === 'string') runAt = Date.parse(s.runAt);
  else if (typeof s.runAt === 'number') runAt = s.runAt;
  let queue: string;
  try {
    queue = await ctx.routes.resolveQueue(s.task, s.queue);
  } catch (err) {
    if (err instanceof ValidationError && ctx.path)
      throw new ValidationError(`${where}${err.message}`, err.details, err.code);
    throw err;
  }
  return {
    id: newJobId(ctx.now),
    queue,
    task: s.task,
    owner: ctx.owner,
    payload,
    priority: s.priority ?? 'normal',
    priorityLevel: s.priorityLevel ?? 0,
    resources: s.resources ?? { ...DEFAULT_RESOURCES },
    constraints: { tags: [...new Set(s.constraints?.tags ?? [])] },
    maxAttempts: s.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    backoffMs: s.backoffMs ?? DEFAULT_BACKOFF_MS,
    timeoutMs: s.timeoutMs ?? null,
    runAt,
    idempotencyKey: s.idempotencyKey ?? null,
    createdAt: ctx.now,
  };
}
