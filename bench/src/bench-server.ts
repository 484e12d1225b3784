import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destination, pino } from 'pino';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';

/** A store and a server listening on loopback, as every workload needs them. */
export interface BenchServer {
  store: Store;
  server: BatonServer;
  url: string;
  /**
   * A token of the stored user `bench`: workloads submit with it, so every request pays what
   * authentication costs in production (a stored token, found and checked). With `noAuth`,
   * an unchecked one.
   */
  token: string;
  /** The server's admin token (for workloads that act as an admin, as the dashboard's does). */
  adminToken: string;
  /** The token remote agents (`baton agent`) connect with; null when they are refused (`remoteAgents` off). */
  agentToken: string | null;
  /** Stops the server, closes the store, removes a temp store. Never throws. */
  close(log: (line: string) => void): Promise<void>;
}

/**
 * Opens the store `storeUrl` names (absent or `sqlite:`: a fresh SQLite file in a temp
 * folder, removed on close) and a server on it with its scheduler.
 */
export async function startBenchServer(
  storeUrl: string | undefined,
  options: { noAuth?: boolean; remoteAgents?: boolean } = {},
): Promise<BenchServer> {
  let tempDir: string | null = null;
  let url = storeUrl;
  if (url === undefined || url === 'sqlite:') {
    tempDir = await mkdtemp(join(tmpdir(), 'baton-bench-'));
    url = `sqlite:${join(tempDir, 'bench.db')}`;
  }
  const removeTemp = async () => {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  };
  let store: Store;
  try {
    store = await openStore(url);
  } catch (err) {
    await removeTemp();
    throw err;
  }
  // Server logs go to stderr: stdout carries only the result line.
  const adminToken = randomBytes(24).toString('base64url');
  // Remote agents only where a workload starts one: an in-process run's server is as it was.
  const agentToken = options.remoteAgents ? randomBytes(24).toString('base64url') : null;
  const server = createBatonServer(store, {
    logger: pino({ level: 'warn' }, destination(2)),
    agentToken,
    ...(options.noAuth ? { insecureNoAuth: true } : { adminToken }),
  });
  const base = await server.listen(0, '127.0.0.1');
  // Without authentication the token is sent and not looked at: the client side is the same.
  const token = options.noAuth ? adminToken : await benchUserToken(base, adminToken);
  return {
    store,
    server,
    url: base,
    token,
    adminToken,
    agentToken,
    async close(log) {
      await server.close().catch((err: unknown) => log(`server close failed: ${String(err)}`));
      await store.close().catch((err: unknown) => log(`store close failed: ${String(err)}`));
      await removeTemp();
    },
  };
}

/** Makes the user `bench` (if new) and mints a token of theirs, as an admin would. */
export async function benchUserToken(base: string, adminToken: string): Promise<string> {
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const user = await fetch(`${base}/api/users`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench' }) });
  if (user.status !== 201 && user.status !== 409) throw new Error(`could not create the bench user: ${user.status}`);
  const minted = await fetch(`${base}/api/users/bench/tokens`, { method: 'POST', headers, body: '{}' });
  if (minted.status !== 201) throw new Error(`could not mint the bench user's token: ${minted.status}`);
  return ((await minted.json()) as { token: string }).token;
}
