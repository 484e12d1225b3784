import { z } from 'zod';
import { JOB_STATES, PRIORITY_CLASSES } from './job.js';
import { MAX_BULK_JOBS, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT } from './limits.js';

/**
 * The API's input contracts. Objects are strict so a misspelt field is an error, not a
 * silently ignored option.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const nameOf = (what: string, max: number) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} is longer than ${max} characters`)
    .regex(NAME, `${what} may hold only letters, digits and . _ : - (and must start with a letter or digit)`);

export const taskNameSchema = nameOf('task', 200);
export const queueNameSchema = nameOf('queue', 100);
export const ownerSchema = nameOf('user', 100);

const DAY_MS = 86_400_000;

export const resourcesSchema = z.strictObject({
  slots: z.number().int().min(1, 'slots must be at least 1').max(1024).default(1),
  cpu: z.number().min(0, 'cpu must not be negative').max(4096).default(0),
  memoryMb: z
    .number()
    .int()
    .min(0, 'memoryMb must not be negative')
    .max(64 * 1024 * 1024)
    .default(0),
  gpus: z.number().int().min(0, 'gpus must not be negative').max(1024).default(0),
});

/** An agent tag a job can require: `region:us-east`, `cpu:high`, `nvlink`. */
export const tagSchema = z
  .string()
  .min(1, 'a tag must not be empty')
  .max(200, 'a tag is longer than 200 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/=-]*$/, 'a tag may hold only letters, digits and . _ : / = -');

export const constraintsSchema = z.strictObject({
  tags: z.array(tagSchema).max(32, 'at most 32 required tags').default([]),
});

export const jobSubmissionSchema = z
  .strictObject({
    task: taskNameSchema,
    queue: queueNameSchema.optional(),
    payload: z.unknown().optional(),
    priority: z.enum(PRIORITY_CLASSES).optional(),
    priorityLevel: z.number().int().min(-1000).max(1000).optional(),
    resources: resourcesSchema.optional(),
    constraints: constraintsSchema.optional(),
    maxAttempts: z.number().int().min(1, 'maxAttempts must be at least 1').max(100).optional(),
    backoffMs: z.number().int().min(0, 'backoffMs must not be negative').max(DAY_MS).optional(),
    timeoutMs: z
      .number()
      .int()
      .min(1, 'timeoutMs must be positive')
      .max(7 * DAY_MS)
      .optional(),
    delayMs: z
      .number()
      .int()
      .min(0, 'delayMs must not be negative')
      .max(365 * DAY_MS)
      .optional(),
    runAt: z.union([z.iso.datetime({ offset: true }), z.number().int().min(0)]).optional(),
    idempotencyKey: z.string().min(1).max(200).optional(),
  })
  .refine((s) => s.delayMs === undefined || s.runAt === undefined, {
    message: 'give delayMs or runAt, not both',
    path: ['runAt'],
  });
export type JobSubmission = z.infer<typeof jobSubmissionSchema>;

export const bulkSubmissionSchema = z.strictObject({
  jobs: z
    .array(z.unknown())
    .min(1, 'jobs must hold at least one job')
    .max(MAX_BULK_JOBS, `at most ${MAX_BULK_JOBS} jobs per bulk request`),
});

export const listJobsQuerySchema = z.strictObject({
  state: z.enum(JOB_STATES).optional(),
  queue: queueNameSchema.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
  cursor: z.string().min(1).max(200).optional(),
});
export type ListJobsQuery = z.infer<typeof listJobsQuerySchema>;

/** Turns zod issues into one line a person can act on, plus details for programs. */
export function describeIssues(error: z.ZodError, prefix = ''): { message: string; details: unknown } {
  const parts = error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  return {
    message: parts.join('; '),
    details: error.issues.map((i) => ({
      path: [prefix, ...i.path.map(String)].filter(Boolean).join('.'),
      message: i.message,
    })),
  };
}
