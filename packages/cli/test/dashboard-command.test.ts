import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from '../../server/test/harness.js';
import { startHarness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';

const BIN = fileURLToPath(new URL('../bin/baton.js', import.meta.url));

const baton = (args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [BIN, ...args],
      { timeout: 20_000, env: { ...process.env, BATON_TOKEN: '', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );

describe('baton dashboard', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.close());

  it('prints a link that signs in with the token, after checking it', async () => {
    const r = await baton(['dashboard', '--server', h.url, '--token', TEST_ADMIN_TOKEN]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${h.url}/#token=${TEST_ADMIN_TOKEN}`);
    expect(r.stderr).toMatch(/signs in as admin \(admin\); it holds your token/);
    // The link's page is the dashboard.
    const page = await fetch(`${h.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app">');
    const json = await baton(['dashboard', '--server', `${h.url}/`, '--token', TEST_ADMIN_TOKEN, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      url: `${h.url}/#token=${TEST_ADMIN_TOKEN}`,
      name: 'admin',
      role: 'admin',
    });
  });

  it('prints the plain address with --no-sign-in, or when no token is known', async () => {
    const plain = await baton(['dashboard', '--server', h.url, '--token', TEST_ADMIN_TOKEN, '--no-sign-in']);
    expect(plain).toMatchObject({ code: 0, stdout: `${h.url}/\n` });
    const none = await baton(['dashboard', '--server', h.url], { BATON_CONFIG_DIR: '/nonexistent-baton-config' });
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(`${h.url}/\n`);
    expect(none.stderr).toMatch(/no token known for this server/);
  });

  it('refuses a token the server does not take, and a bad --server, with no link printed', async () => {
    const bad = await baton(['dashboard', '--server', h.url, '--token', 'not-a-valid-token-0000']);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/401|UNAUTHORIZED|token/i);
    const url = await baton(['dashboard', '--server', 'not a url', '--token', TEST_ADMIN_TOKEN]);
    expect(url.code).toBe(2);
    expect(url.stdout).toBe('');
  });
});
