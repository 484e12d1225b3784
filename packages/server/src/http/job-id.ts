import type { FastifyRequest } from 'fastify';
import { ValidationError } from '@baton/core';

const JOB_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The `:id` of a job route, checked to be a job id. */
export function jobIdOf(request: FastifyRequest<{ Params: { id: string } }>): string {
  const { id } = request.params;
  if (!JOB_ID.test(id)) throw new ValidationError(`"${id}" is not a job id`, undefined, 'INVALID_JOB_ID');
  return id;
}
