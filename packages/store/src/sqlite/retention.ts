import type { FinalJobState } from '../contract.js';
import { retentionArgs } from '../rules/retention-rules.js';
import type { BackgroundCheckpoints } from './background-checkpoints.js';
import type { SqliteContext } from './context.js';

/**
 * Jobs deleteFinished removes before the WAL is truncated: a deletion that large leaves a WAL
 * of tens of megabytes, which a checkpoint rewinds but never shrinks.
 */
export const WAL_TRUNCATE_AFTER_DELETES = 10_000;

/** Jobs of one state deleteFinished looks at, oldest created first (see statements.ts). */
const RETENTION_SCAN = 10_000;

/** Retention in SQLite: deleteFinished, and truncating the WAL after large deletions. */
export class SqliteRetention {
  /** Jobs deleteFinished removed since the WAL was last truncated. */
  private deletedSinceTruncate = 0;

  constructor(
    private readonly ctx: SqliteContext,
    private readonly path: string,
    private readonly checkpoints: BackgroundCheckpoints | null,
  ) {}

  async deleteFinished(finishedBefore: number, limit: number, state?: FinalJobState): Promise<{ deleted: number }> {
    const { before, limit: max, state: only } = retentionArgs(finishedBefore, limit, state);
    if (max === 0) return { deleted: 0 };
    const { sql } = this.ctx;
    const deleted = this.ctx.db.transaction(() => {
      const rows = only
        ? sql[`${only}Before`].all({ before, limit: max, scan: Math.max(RETENTION_SCAN, max) })
        : sql.finishedBefore.all({ before, limit: max });
      let n = 0;
      for (const { id } of rows as { id: string }[]) {
        sql.deleteAttempts.run(id);
        sql.deleteLogs.run(id);
        sql.deleteLogTail.run(id);
        n += sql.deleteFinishedJob.run(id).changes;
      }
      return n;
    })();
    this.deletedSinceTruncate += deleted;
    if (this.deletedSinceTruncate >= WAL_TRUNCATE_AFTER_DELETES) {
      this.deletedSinceTruncate = 0;
      await this.truncateWal();
    }
    return { deleted };
  }

  /**
   * Shrinks the write-ahead log back to nothing. A checkpoint only rewinds the WAL, so after a
   * large deletion it would keep its peak size on disk for good. In the checkpoint worker
   * when it runs (the fsyncs stay off the event loop); a WAL that readers still hold is left
   * for the next time.
   */
  private async truncateWal(): Promise<void> {
    if (this.path === ':memory:') return;
    if (this.checkpoints?.running) {
      await this.checkpoints.truncate();
      return;
    }
    try {
      this.ctx.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Busy: the jobs are gone all the same; the next large deletion tries again.
    }
  }
}
