import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBatonListening } from './baton-process.js';

/**
 * No token in clear in the logs or the store: a server at its most talkative log level sees
 * the admin token, a user's minted token, bad tokens and failed requests; none of them appears in
 * its output, and the SQLite file holds only the minted token's digest.
 */
describe('tokens are never logged or stored in clear', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  it('keeps every token out of a debug-level log and out of the store file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-token-log-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const admin = `admin-secret-${'x'.repeat(24)}`;
    const file = join(dir, 'baton.db');
    const p = await startBatonListening('server', [
      '--store',
      `sqlite:${file}`,
      '--admin-token',
      admin,
      '--log-level',
      'debug',
    ]);
    cleanup.push(() => p.child.kill('SIGKILL'));
    const call = (path: string, token: string, body?: unknown) =>
      fetch(`${p.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await call('/api/users', admin, { name: 'eve' })).status).toBe(201);
    const minted = (await (await call('/api/users/eve/tokens', admin, {})).json()) as { token: string };
    const secret = minted.token.slice(23);
    expect((await call('/api/me', minted.token)).status).toBe(200);
    const guess = `baton_0123456789abcdef_${'G'.repeat(43)}`;
    expect((await call('/api/me', guess)).status).toBe(401);
    expect((await call('/api/jobs', minted.token, '{not json')).status).toBe(400);
    expect((await call('/api/users', minted.token, { name: 'x' })).status).toBe(403);
    p.child.kill('SIGINT');
    await p.exited;

    const log = p.output();
    expect(log.length).toBeGreaterThan(0);
    for (const token of [admin, minted.token, secret, guess]) expect(log).not.toContain(token);
    const stored =
      readFileSync(file).toString('latin1') + readFileSync(`${file}-wal`, { flag: 'a+' }).toString('latin1');
    // The right bytes were read: the token's digest is there, the token is not.
    expect(stored).toContain(createHash('sha256').update(secret).digest('hex'));
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(admin);
  });
});
