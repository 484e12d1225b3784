import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BatonProcess } from './baton-process.js';
import { startBatonListening } from './baton-process.js';
import { AGENT_TOKEN, FAST, startAgent } from './fleet.js';
import type { Proc } from './fleet.js';
import { launchBrowser } from './browser.js';

const ADMIN = 'e2e-admin-token-0123456789abcdef';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * The page outlives its server: while the server is away it says so and keeps trying, and once
 * a server is back it reconnects by itself and catches up over HTTP, with no reload.
 */
describe('dashboard across a server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-e2e-restart-'));
  const procs: { kill(): void }[] = [];
  afterAll(() => {
    for (const p of procs) p.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows offline, reconnects, and shows what happened meanwhile', async () => {
    const port = await freePort();
    const start = async (): Promise<BatonProcess> => {
      const s = await startBatonListening('server', [
        ...['--port', String(port), '--admin-token', ADMIN, '--agent-token', AGENT_TOKEN],
        ...['--store', `sqlite:${join(dir, 'baton.db')}`, ...FAST],
      ]);
      procs.push({ kill: () => s.child.kill('SIGKILL') });
      return s;
    };
    let server = await start();
    const agent: Proc = await startAgent(server.url, 'restart-agent', ['--demo']);
    procs.push(agent);
    const browser = await launchBrowser();
    procs.push({ kill: () => void browser.close() });
    const page = await browser.newPage();
    await page.goto(`${server.url}/jobs#token=${ADMIN}`);
    await page.getByRole('status').filter({ hasText: 'live' }).first().waitFor();

    server.child.kill('SIGKILL');
    await server.exited;
    await page.getByRole('status').filter({ hasText: 'offline, reconnecting' }).first().waitFor({ timeout: 15_000 });

    server = await start();
    const r = await fetch(`${server.url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'demo.sleep', payload: { ms: 100 } }),
    });
    expect(r.status).toBe(201);
    const { id } = (await r.json()) as { id: string };
    await page.getByRole('status').filter({ hasText: 'live' }).first().waitFor({ timeout: 20_000 });
    await page.locator('tr', { hasText: id }).waitFor({ timeout: 20_000 });
    await page.locator('tr', { hasText: id }).locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 20_000 });
    await browser.close();
  }, 90_000);
});
