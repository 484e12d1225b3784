import { z } from 'zod';
import { JOB_STATES, PRIORITY_CLASSES } from './job.js';
import { MAX_BULK_JOBS, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT, MAX_TIME_MS } from './limits.js';

/**
 * The API's input contracts. Objects are strict so a misspelt field is an error, not a
 * silently ignored option.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
export const nameOf = (what: string, max: number) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} is longer than ${max} characters`)
    .regex(NAME, `${what} may hold only letters, digits and . _ : - (and must start with a letter or digit)`);

/** C0 and C1 controls and DEL: no key or id needs them, and echoed they corrupt terminals and logs. */
const CONTROL_CHARACTER = /\p{Cc}/u;
/** Half of a surrogate pair on its own: not Unicode, so stores would keep a mangled copy. */
const LONE_SURROGATE = /\p{Cs}/u;

/** A free-form string the API keys or finds things by (an idempotency key, a cursor). */
export const identifierOf = (what: string, max: number) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} is longer than ${max} characters`)
    .refine((s) => !CONTROL_CHARACTER.test(s), `${what} must not hold control characters`)
    .refine((s) => !LONE_SURROGATE.test(s), `${what} must not hold unpaired surrogates (it is not valid Unicode)`);

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

const LATEST_TIME = new Date(MAX_TIME_MS).toISOString();

/** When a job may run: an ISO 8601 date-time or epoch milliseconds, no later than year 9999. */
const runAtSchema = z.union(
  [
    z.iso
      .datetime({ offset: true, error: 'runAt must be an ISO 8601 date-time with a zone, like 2026-01-02T03:04:05Z' })
      .refine((s) => !(Date.parse(s) > MAX_TIME_MS), `runAt must be no later than ${LATEST_TIME}`),
    z
      .number()
      .int('runAt must be a whole number of milliseconds since 1970')
      .min(0, 'runAt must not be negative')
      .max(MAX_TIME_MS, `runAt must be at most ${MAX_TIME_MS} (${LATEST_TIME})`),
  ],
  { error: 'runAt must be an ISO 8601 date-time or epoch milliseconds' },
);

/** What a job and a workflow step both say about the work: task, queue, payload, needs, retries. */
export const jobFields = {
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
};

export const jobSubmissionSchema = z
  .strictObject({
    ...jobFields,
    delayMs: z
      .number()
      .int()
      .min(0, 'delayMs must not be negative')
      .max(365 * DAY_MS)
      .optional(),
    runAt: runAtSchema.optional(),
    idempotencyKey: identifierOf('idempotencyKey', 200).optional(),
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

/** Epoch ms in a query string: digits only, so `1e3`, `-1` or `` are refused rather than read as numbers. */
const epochMsParam = (what: string) =>
  z
    .string()
    .regex(/^\d{1,16}$/, `${what} must be epoch milliseconds (digits only)`)
    .transform(Number)
    .refine((n) => n <= MAX_TIME_MS, `${what} must be at most ${MAX_TIME_MS}`);

/** Epoch ms in a JSON body. */
const epochMs = (what: string) =>
  z
    .number({ error: `${what} must be epoch milliseconds` })
    .int(`${what} must be a whole number of milliseconds since 1970`)
    .min(0, `${what} must not be negative`)
    .max(MAX_TIME_MS, `${what} must be at most ${MAX_TIME_MS}`);

const sinceBeforeUntil = (q: { since?: number | undefined; until?: number | undefined }) =>
  q.since === undefined || q.until === undefined || q.since <= q.until;
const SINCE_AFTER_UNTIL = { message: 'since must not be after until', path: ['since'] };

export const listJobsQuerySchema = z
  .strictObject({
    state: z.enum(JOB_STATES).optional(),
    queue: queueNameSchema.optional(),
    owner: ownerSchema.optional(),
    task: taskNameSchema.optional(),
    /** Jobs created at or after (epoch ms). */
    since: epochMsParam('since').optional(),
    /** Jobs created before (epoch ms). */
    until: epochMsParam('until').optional(),
    limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
    cursor: identifierOf('cursor', 200).optional(),
  })
  .refine(sinceBeforeUntil, SINCE_AFTER_UNTIL);

/** `GET /api/jobs/counts`. */
export const jobCountsQuerySchema = z.strictObject({
  queue: queueNameSchema.optional(),
  owner: ownerSchema.optional(),
});

/** Jobs a bulk cancel or retry acts on at most per request. */
export const MAX_BULK_ACTION = 10_000;

/** `POST /api/jobs/bulk-cancel` and `bulk-retry`: which jobs, and whether only to count them. */
export const bulkActionSchema = z.strictObject({
  filter: z
    .strictObject({
      state: z.enum(JOB_STATES).optional(),
      queue: queueNameSchema.optional(),
      task: taskNameSchema.optional(),
      owner: ownerSchema.optional(),
      since: epochMs('since').optional(),
      until: epochMs('until').optional(),
    })
    .refine(sinceBeforeUntil, SINCE_AFTER_UNTIL),
  dryRun: z.boolean().default(false),
  max: z
    .number()
    .int('max must be a whole number')
    .min(1, 'max must be at least 1')
    .max(MAX_BULK_ACTION, `max must be at most ${MAX_BULK_ACTION}`)
    .default(MAX_BULK_ACTION),
});
export type BulkAction = z.infer<typeof bulkActionSchema>;
export type ListJobsQuery = z.infer<typeof listJobsQuerySchema>;

/** Control characters and unpaired surrogates as `\uXXXX`, so text prints and logs safely. */
const printable = (text: string): string =>
  text.replace(/[\p{Cc}\p{Cs}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * User text for an error message: quoted, cut to `max` characters, control characters and
 * unpaired surrogates escaped, so a message can be printed and logged safely.
 */
export function quoteInput(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return printable(JSON.stringify(cut));
}

/** An issue's message; unknown keys are the one place zod echoes input, so they are quoted. */
function messageOf(issue: z.ZodError['issues'][number]): string {
  if (issue.code === 'unrecognized_keys') {
    const shown = issue.keys.slice(0, 5).map((k) => quoteInput(k));
    const more = issue.keys.length > shown.length ? ` and ${issue.keys.length - shown.length} more` : '';
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${shown.join(', ')}${more}`;
  }
  return printable(issue.message);
}

/** Turns zod issues into one line a person can act on, plus details for programs. */
export function describeIssues(error: z.ZodError, prefix = ''): { message: string; details: unknown } {
  const issues = error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.'),
    message: messageOf(issue),
  }));
  return {
    message: issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
    details: issues,
  };
}
