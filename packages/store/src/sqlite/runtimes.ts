import type Database from 'better-sqlite3';
import { RUNTIME_SAMPLES_KEPT } from '@baton/core';
import type { RuntimeSample, RuntimeSamples } from '../runtime-samples.js';
import { MAX_RUNTIME_KEYS_READ } from '../runtime-samples.js';
import { checkRuntimeClassPage, keptRuntimes, runtimeKeysToRead, runtimesToRecord } from '../rules/runtime-rules.js';
import type { SqliteContext } from './context.js';

/**
 * Migration 11: each runtime class's newest runtimes, newest first, as a JSON array of whole ms
 * (runtime-samples.ts). One row per class: a read is one probe, a write rewrites a short array.
 */
export const RUNTIME_SAMPLES_SQL = `
  CREATE TABLE runtime_samples (
    key        TEXT PRIMARY KEY,
    samples    TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

/** Runtime history in SQLite: a batch is one write transaction, so no concurrent writer interleaves. */
export class SqliteRuntimes implements RuntimeSamples {
  private readonly db: Database.Database;
  private readonly get: Database.Statement;
  private readonly put: Database.Statement;
  private readonly page: Database.Statement;
  private readonly firstPage: Database.Statement;

  constructor(private readonly ctx: SqliteContext) {
    this.db = ctx.db;
    this.get = this.db.prepare('SELECT samples FROM runtime_samples WHERE key = ?');
    this.put = this.db.prepare(
      `INSERT INTO runtime_samples (key, samples, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET samples = excluded.samples, updated_at = excluded.updated_at`,
    );
    this.page = this.db.prepare('SELECT key FROM runtime_samples WHERE key > ? ORDER BY key LIMIT ?');
    this.firstPage = this.db.prepare('SELECT key FROM runtime_samples ORDER BY key LIMIT ?');
  }

  async recordRuntimes(samples: readonly RuntimeSample[]): Promise<void> {
    const byKey = runtimesToRecord(samples);
    if (byKey.size === 0) return;
    const now = this.ctx.clock();
    this.db
      .transaction(() => {
        for (const [key, newest] of byKey) {
          const row = this.get.get(key) as { samples: string } | undefined;
          const kept = [...newest, ...(row ? (JSON.parse(row.samples) as number[]) : [])];
          this.put.run(key, JSON.stringify(kept.slice(0, RUNTIME_SAMPLES_KEPT)), now);
        }
      })
      // Takes the write lock before reading, so another connection cannot write in between.
      .immediate();
  }

  async runtimeSamples(keys: readonly string[]): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    for (const key of runtimeKeysToRead(keys)) {
      const row = this.get.get(key) as { samples: string } | undefined;
      if (row) out.set(key, keptRuntimes(JSON.parse(row.samples) as number[]));
    }
    return out;
  }

  async runtimeClasses(after: string | null, limit: number): Promise<string[]> {
    checkRuntimeClassPage(after, limit);
    const n = Math.min(limit, MAX_RUNTIME_KEYS_READ);
    const rows = (after === null ? this.firstPage.all(n) : this.page.all(after, n)) as { key: string }[];
    return rows.map((r) => r.key);
  }
}
