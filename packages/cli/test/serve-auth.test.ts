import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BatonProcess } from '../../../test/baton-process.js';
import { startBatonListening } from '../../../test/baton-process.js';
import { runBaton } from './baton-run.js';

const ADMIN_TOKEN = 'serve-auth-admin-token-0123456789';
/** No admin token from the environment of whoever runs the tests. */
const CLEAN = { BATON_ADMIN_TOKEN: undefined, BATON_TOKEN: undefined };

describe('baton server and baton dev authentication flags', () => {
  let configDir: string;
  const started: BatonProcess[] = [];
  beforeAll(() => {
    configDir = mkdtempSync(join(tmpdir(), 'baton-serve-auth-'));
  });
  afterEach(async () => {
    for (const p of started.splice(0)) {
      p.child.kill('SIGINT');
      await p.exited;
    }
  });
  afterAll(() => rmSync(configDir, { recursive: true, force: true }));

  it('baton server without --admin-token or --insecure-no-auth refuses to start, naming both', async () => {
    const r = await runBaton(['server', '--store', 'sqlite::memory:', '--port', '0'], {
      ...CLEAN,
      BATON_CONFIG_DIR: configDir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^baton: baton server needs --admin-token TOKEN \(or BATON_ADMIN_TOKEN\).*--insecure-no-auth/,
    );
    expect(r.stdout).not.toMatch(/listening on/);
  });

  it('refuses an admin token shorter than 16 characters, from the flag or BATON_ADMIN_TOKEN, without showing it', async () => {
    for (const [args, env] of [
      [['--admin-token', 'short-secret'], CLEAN],
      [[], { ...CLEAN, BATON_ADMIN_TOKEN: 'short-secret' }],
    ] as const) {
      for (const command of ['server', 'dev']) {
        const r = await runBaton([command, '--store', 'sqlite::memory:', '--port', '0', ...args], {
          ...env,
          BATON_CONFIG_DIR: configDir,
        });
        expect(r.code, `${command} ${args.join(' ')}`).toBe(2);
        expect(r.stderr).toMatch(
          /^baton: --admin-token \(or BATON_ADMIN_TOKEN\) must be at least 16 printable characters/,
        );
        expect(r.stderr).not.toContain('short-secret');
      }
    }
  });

  it('baton server starts with BATON_ADMIN_TOKEN, or with --insecure-no-auth and says the API is open', async () => {
    const withToken = await startBatonListening('server', ['--store', 'sqlite::memory:'], 20_000, {
      env: { BATON_ADMIN_TOKEN: ADMIN_TOKEN, BATON_CONFIG_DIR: configDir },
      testAuth: false,
    });
    started.push(withToken);
    expect(withToken.output()).toMatch(/auth: {3}tokens/);
    expect(withToken.output()).not.toContain(ADMIN_TOKEN);
    const open = await startBatonListening('server', ['--store', 'sqlite::memory:', '--insecure-no-auth']);
    started.push(open);
    expect(open.output()).toMatch(/auth: {3}NONE \(--insecure-no-auth\)/);
  });

  it('baton dev saves its admin token for its URL (0600), and client commands there find it', async () => {
    const dev = await startBatonListening('dev', ['--store', 'sqlite::memory:', '--admin-token', ADMIN_TOKEN], 20_000, {
      env: { BATON_CONFIG_DIR: configDir },
    });
    started.push(dev);
    const file = join(configDir, 'credentials.json');
    // A given token is never printed; the file it is saved in is.
    expect(dev.output()).toContain(`admin:  token saved in ${file}`);
    expect(dev.output()).not.toContain(ADMIN_TOKEN);
    expect(JSON.parse(readFileSync(file, 'utf8')).servers[dev.url]).toEqual({ token: ADMIN_TOKEN });
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const r = await runBaton(['submit', 'demo.echo', '--server', dev.url, '--json'], {
      ...CLEAN,
      BATON_CONFIG_DIR: configDir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).state).toBe('queued');
  });

  it('baton dev without a token makes one, prints it in its banner with its file, and never logs it', async () => {
    const dir = mkdtempSync(join(configDir, 'fresh-'));
    const dev = await startBatonListening('dev', ['--store', 'sqlite::memory:', '--log-level', 'debug'], 20_000, {
      env: { ...CLEAN, BATON_CONFIG_DIR: dir },
      testAuth: false,
    });
    started.push(dev);
    const token = /admin: {2}token (baton_admin_[A-Za-z0-9_-]{43}) \(new\) saved in (\S+);/.exec(dev.output());
    expect(token?.[2]).toBe(join(dir, 'credentials.json'));
    const admin = token![1]!;
    // Requests with the token, and with a wrong one, at debug level: neither shows in the log.
    const wrong = `baton_0123456789abcdef_${'w'.repeat(43)}`;
    for (const t of [admin, wrong]) await fetch(`${dev.url}/api/jobs`, { headers: { authorization: `Bearer ${t}` } });
    await runBaton(['jobs', '--server', dev.url], { ...CLEAN, BATON_CONFIG_DIR: dir });
    await new Promise((r) => setTimeout(r, 200));
    // Printed twice at start, both in the banner: the admin line and the dashboard's signed-in link.
    expect(dev.output().split(admin)).toHaveLength(3);
    expect(dev.output()).toContain(`web:    ${dev.url}/#token=${admin} `);
    expect(dev.output()).not.toContain(wrong);
  });
});
