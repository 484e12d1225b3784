import type Database from 'better-sqlite3';
import type { StoreEvents } from '../events.js';
import type { Statements } from './statements.js';
import type { WorkflowStatements } from './workflow-statements.js';

/**
 * What the SQLite store's domain modules (jobs, scheduling, leases, retention) share: the
 * connection and its prepared statements, the store's clock and random source, and the
 * listeners to tell. better-sqlite3 is synchronous, so each call is one transaction that no
 * other caller interleaves with.
 */
export interface SqliteContext {
  db: Database.Database;
  sql: Statements;
  /** Workflow statements (workflow-statements.ts). */
  wf: WorkflowStatements;
  clock: () => number;
  random: () => number;
  events: StoreEvents;
}
