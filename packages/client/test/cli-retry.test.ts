import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import type { ThrowawayServer } from '../../store/test/throwaway-servers.js';
import { throwawayRedis } from '../../store/test/throwaway-servers.js';

/**
 * `baton submit` through a store outage: the CLI (through the SDK) retries the 503, says so on
 * stderr, and submits once when the store is back.
 */
const BIN = fileURLToPath(new URL('../../cli/bin/baton.js', import.meta.url));
const TASK = 'cli.retry';

describe('baton submit while the store is down', () => {
  let db: ThrowawayServer;
  let store: Store;
  let server: BatonServer;
  let url: string;
  beforeAll(async () => {
    db = await throwawayRedis();
    store = await openStore(db.storeUrl(`cli_${randomBytes(4).toString('hex')}`));
    await store.registerTasks([{ task: TASK, queue: 'default' }]);
    server = createBatonServer(store, { maxSweepMs: 100, insecureNoAuth: true });
    url = await server.listen(0);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await store?.close();
    await db?.dispose();
  });

  it('says it retries on stderr and submits once the store is back', async () => {
    const marker = randomBytes(6).toString('hex');
    await db.stop();
    const child = spawn(
      process.execPath,
      [BIN, 'submit', TASK, '--payload', JSON.stringify({ marker }), '--server', url],
      {
        env: { ...process.env, BATON_USER: 'cli-retrier' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    await vi.waitFor(() => expect(stderr).toContain('retrying'), { timeout: 20_000, interval: 20 });
    await db.start();
    expect(await exited).toBe(0);

    expect(stderr.split('\n')[0]).toMatch(
      /^baton: the job store is unavailable; retry in a few seconds \(STORE_UNAVAILABLE\); retrying in \d+\.\d s \(1\/5\)$/,
    );
    const [id, state] = stdout.trim().split(' ');
    expect(state).toBe('queued');
    const { jobs } = await store.listJobs({ owner: 'cli-retrier', limit: 100 });
    expect(jobs.filter((j) => (j.payload as { marker?: string } | null)?.marker === marker).map((j) => j.id)).toEqual([
      id,
    ]);
  });
});
