import type { FastifyRequest } from 'fastify';
import { ValidationError, quoteInput } from '@baton/core';

/** Job and workflow ids are both ULIDs (see core ids.ts). */
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The `:id` of a job route, checked to be a job id (and quoted safely when it is not). */
export function jobIdOf(request: FastifyRequest<{ Params: { id: string } }>): string {
  return checkedId(request.params.id, 'job', 'INVALID_JOB_ID');
}

/** The `:id` of a workflow route, checked to be a workflow id. */
export function workflowIdOf(request: FastifyRequest<{ Params: { id: string } }>): string {
  return checkedId(request.params.id, 'workflow', 'INVALID_WORKFLOW_ID');
}

function checkedId(id: string, what: string, code: string): string {
  if (!ULID.test(id))
    throw new ValidationError(
      `${quoteInput(id, 40)} is not a ${what} id (26 characters, like 01JDB5Q2X8W6K7C3V9M4N0P1R2)`,
      undefined,
      code,
    );
  return id;
}
