import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/**
 * Runs in a worker thread: copies the WAL back into the database file on its own connection,
 * so the fsyncs a checkpoint needs never stall the event loop that serves jobs. PASSIVE
 * checkpoints never wait for or block the writer. On request (`{ truncate: n }`, answered with
 * `{ truncated: n }`) it also shrinks the WAL file to nothing, after a large deletion.
 */
const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new Database(path);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort?.postMessage({ error: errorMessage(err) });
  }
}, intervalMs);

parentPort?.on('message', (message: unknown) => {
  if (typeof message === 'object' && message !== null && 'truncate' in message) {
    const { truncate } = message as { truncate: number };
    try {
      // Waits (busy_timeout) for the writer; a reader still on the WAL leaves it for next time.
      db.pragma('wal_checkpoint(TRUNCATE)');
      parentPort?.postMessage({ truncated: truncate });
    } catch (err) {
      parentPort?.postMessage({ truncated: truncate, truncateError: errorMessage(err) });
    }
    return;
  }
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
