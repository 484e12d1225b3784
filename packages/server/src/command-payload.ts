import { ValidationError, commandEnvIssues } from '@baton/core';

/** The built-in command task (agents started with --allow-commands serve it). */
const COMMAND_TASK = 'command';

/**
 * Refuses, with 400, a `command` job whose `payload.env` the agents would refuse: a loader or
 * interpreter hook (`LD_PRELOAD`…), a `BATON_*` or `CUDA_VISIBLE_DEVICES` variable, a bad name
 * or value. The rest of the payload is checked by the agent that runs it. `path` prefixes field
 * names in messages (`jobs.3`) for bulk requests.
 */
export function checkCommandPayload(task: string, payload: unknown, path?: string): void {
  if (task !== COMMAND_TASK || typeof payload !== 'object' || payload === null) return;
  if (!Object.hasOwn(payload, 'env')) return;
  const env = (payload as { env?: unknown }).env;
  if (env === undefined) return;
  const where = [path, 'payload', 'env'].filter(Boolean).join('.');
  const details = commandEnvIssues(env).map((issue) => ({
    path: issue.path ? `${where}.${issue.path}` : where,
    message: issue.message,
  }));
  if (details.length === 0) return;
  throw new ValidationError(details.map((d) => `${d.path}: ${d.message}`).join('; '), details);
}
