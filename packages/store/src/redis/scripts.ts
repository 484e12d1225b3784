import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import type { JobState } from '@baton/core';
import { WORKFLOW_CANCELLED_ERROR, failFastError, skippedError } from '@baton/core';

/**
 * The Lua scripts of the Redis store: one file per state transition in `src/redis/scripts/`,
 * each with a header listing its KEYS, ARGV and return values. They are read from the source
 * folder at run time (relative to this compiled file, so `dist/` needs no copy), with
 * `--@include lib/x.lua` lines replaced by the shared fragment.
 */
export const SCRIPT_NAMES = [
  'enqueue',
  'pending',
  'assign',
  'start',
  'heartbeat',
  'complete',
  'release',
  'cancel',
  'promote',
  'expire',
  'append-logs',
  'get-logs',
  'delete-finished',
  'claim-shards',
  'remove-scheduler',
  'put-agents',
  'register-routes',
  'task-routes',
  'create-token',
  'delete-token',
  'delete-user',
  'update-user',
  'set-quota',
  'preempt',
  'add-usage',
  'record-runtimes',
  'create-workflow',
  'cancel-workflow',
  'retry-workflow',
  'add-steps',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** `src/redis/scripts/`, from `dist/redis/` (compiled) or `src/redis/` (run from source). */
const SCRIPTS_DIR = new URL('../../src/redis/scripts/', import.meta.url);

function readScript(file: string): string {
  const text = readFileSync(new URL(file, SCRIPTS_DIR), 'utf8');
  return text
    .replace(/^--@include (\S+)$/gm, (_, included: string) => readScript(included))
    .replace(/^--@workflow-errors$/m, workflowErrors);
}

/**
 * A Lua string literal of JSON text: JSON.stringify escapes every control character, so only
 * quotes and backslashes need escaping.
 */
function luaString(json: string): string {
  return `'${json.replace(/['\\]/g, (c) => `\\${c}`)}'`;
}

/**
 * lib/workflow.lua's error texts, made here from @baton/core's own functions so the texts live
 * in one place: each a JSON template whose markers `@1@` and `@2@` stand for the step and its
 * state (filled in Lua by `fill`, JSON-escaped).
 */
function workflowErrors(): string {
  const [step, state] = ['@1@', '@2@' as JobState];
  return [
    `local WF_SKIPPED_ERROR = ${luaString(JSON.stringify(skippedError(step, state)))}`,
    `local WF_FAIL_FAST_ERROR = ${luaString(JSON.stringify(failFastError(step, state)))}`,
    `local WF_CANCELLED_ERROR = ${luaString(JSON.stringify(WORKFLOW_CANCELLED_ERROR))}`,
  ].join('\n');
}

let cache: Map<ScriptName, string> | null = null;

/** Every script's Lua source, includes resolved. */
export function scriptSources(): Map<ScriptName, string> {
  cache ??= new Map(SCRIPT_NAMES.map((name) => [name, readScript(`${name}.lua`)]));
  return cache;
}

/** The ioredis command name of a script (`append-logs` → `batonAppendLogs`). */
export function commandName(name: ScriptName): string {
  return `baton${name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase())}`;
}

/**
 * Defines every script as a command on a client: ioredis sends EVALSHA and falls back to EVAL
 * when the server does not know the script yet, also inside pipelines.
 */
export function defineScripts(client: Redis | Cluster): void {
  for (const [name, lua] of scriptSources()) client.defineCommand(commandName(name), { lua });
}

/** Something a script can be called on: a client or a pipeline. */
type Callable = object;

/** Queues (on a pipeline) or sends a script call with its keys and arguments. */
export function callScript(
  target: Callable,
  name: ScriptName,
  keys: readonly string[],
  args: readonly (string | number)[],
): unknown {
  const fn = (target as Record<string, (...a: (string | number)[]) => unknown>)[commandName(name)];
  if (!fn) throw new Error(`Redis script ${name} is not defined on this client`);
  return fn.call(target, keys.length, ...keys, ...args);
}
