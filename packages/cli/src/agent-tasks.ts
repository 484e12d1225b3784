import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyTaskDefinition } from '@baton/agent';
import { CliError } from './cli-error.js';

function isTask(value: unknown): value is AnyTaskDefinition {
  const v = value as Partial<AnyTaskDefinition> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.name === 'string' &&
    typeof v.queue === 'string' &&
    typeof v.handler === 'function'
  );
}

/**
 * Loads the tasks a module defines with `defineTask`: its exports (named or default) that are
 * tasks or arrays of tasks. A module without any, or with two tasks of one name, is an error.
 */
export async function loadTaskModule(file: string): Promise<AnyTaskDefinition[]> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CliError(`--tasks: no such file ${file}`, 2);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`--tasks: cannot load ${file}: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
  const found: AnyTaskDefinition[] = [];
  for (const value of Object.values(module)) {
    for (const candidate of Array.isArray(value) ? value : [value]) if (isTask(candidate)) found.push(candidate);
  }
  const byName = new Map<string, AnyTaskDefinition>();
  for (const task of found) {
    const seen = byName.get(task.name);
    if (seen && seen !== task) throw new CliError(`--tasks: ${file} defines task "${task.name}" twice`, 2);
    byName.set(task.name, task);
  }
  if (byName.size === 0) {
    throw new CliError(`--tasks: ${file} exports no tasks (export the results of defineTask(...))`, 2);
  }
  return [...byName.values()];
}
