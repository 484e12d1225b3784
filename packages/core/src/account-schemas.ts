import { z } from 'zod';
import { ownerSchema } from './schemas.js';

/** Input contracts of users, tokens and quotas. Strict objects: a misspelt field is an error. */

export const ROLES = ['admin', 'user', 'viewer'] as const;
export const roleSchema = z.enum(ROLES, { message: `role must be one of: ${ROLES.join(', ')}` });

/** A user's weight under fair share: how many shares of the fleet they get against weight 1. */
export const weightSchema = z
  .number()
  .positive('weight must be greater than 0')
  .max(1_000_000, 'weight must be at most 1000000');

export const newUserSchema = z.strictObject({
  name: ownerSchema,
  role: roleSchema.default('user'),
  weight: weightSchema.default(1),
});

/** A change to a user: the fields given change, the rest stay. */
export const userChangeSchema = z.strictObject({
  role: roleSchema.optional(),
  weight: weightSchema.optional(),
});

/** A token's public id, as in `baton_<id>_<secret>`. */
export const tokenIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'a token id is 16 hexadecimal characters');

const limitOf = (what: string, max: number) =>
  z
    .number()
    .int(`${what} must be a whole number`)
    .min(0, `${what} must not be negative`)
    .max(max, `${what} must be at most ${max}`)
    .nullable();

/** A change to a quota: a field left out stays as it is; null lifts that limit. */
export const quotaPatchSchema = z.strictObject({
  maxRunningJobs: limitOf('maxRunningJobs', 10_000_000).optional(),
  maxGpus: limitOf('maxGpus', 1_000_000).optional(),
  maxQueuedJobs: limitOf('maxQueuedJobs', 1_000_000_000).optional(),
  submitRatePerSec: z
    .number()
    .positive('submitRatePerSec must be greater than 0 (null lifts the limit)')
    .max(1_000_000, 'submitRatePerSec must be at most 1000000')
    .nullable()
    .optional(),
});
export type QuotaPatch = z.infer<typeof quotaPatchSchema>;
