import type { FastifyRequest } from 'fastify';
import { ValidationError, quoteInput } from '@baton/core';

const JOB_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The `:id` of a job route, checked to be a job id (and quoted safely when it is not). */
export function jobIdOf(request: FastifyRequest<{ Params: { id: string } }>): string {
  const { id } = request.params;
  if (!JOB_ID.test(id))
    throw new ValidationError(
      `${quoteInput(id, 40)} is not a job id (26 characters, like 01JDB5Q2X8W6K7C3V9M4N0P1R2)`,
      undefined,
      'INVALID_JOB_ID',
    );
  return id;
}
