import { ValidationError } from '@baton/core';
import type { StoredTaskRoute, TaskRoute } from '../contract.js';

/**
 * How long a route written before routes expired (no expiry in SQL, a registration time in
 * Redis) stays live: long enough for live agents, which re-register every few minutes, to
 * renew it; those of agents that left go.
 */
export const ROUTES_FROM_BEFORE_MS = 3_600_000;

/** Expired routes one registerTasks (SQLite, PostgreSQL) or taskRoutes (Redis) call deletes at most. */
export const ROUTE_SWEEP = 1000;

/**
 * Checks registerTasks' `ttlMs` and answers the expiry the call gives its routes: null (live
 * forever) without one. A ttl must be a positive integer of milliseconds: a zero, negative or
 * fractional one would register routes that are already gone, or half a millisecond apart.
 */
export function routeExpiry(ttlMs: number | undefined, now: number): number | null {
  if (ttlMs === undefined) return null;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new ValidationError(`ttlMs must be a positive integer of milliseconds, not ${ttlMs}`);
  }
  return now + ttlMs;
}

/** The routes of a call, each (task, queue) once, so a batch never updates one row twice. */
export function uniqueRoutes(tasks: readonly TaskRoute[]): TaskRoute[] {
  return [...new Map(tasks.map((t) => [`${t.task}\u0000${t.queue}`, { task: t.task, queue: t.queue }])).values()];
}

/** By task, then queue, comparing code units (as PostgreSQL's "C" collation and SQLite do). */
export function sortRoutes(routes: StoredTaskRoute[]): StoredTaskRoute[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return routes.sort((a, b) => cmp(a.task, b.task) || cmp(a.queue, b.queue));
}
