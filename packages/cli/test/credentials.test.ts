import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configDir, credentialsPath, saveToken, savedToken, serverKey } from '../src/credentials.js';
import { tokenFor } from '../src/commands/connection.js';
import { devAdminToken, predictedUrl } from '../src/dev-admin.js';

const TOKEN_A = `baton_0123456789abcdef_${'a'.repeat(43)}`;
const TOKEN_B = `baton_fedcba9876543210_${'b'.repeat(43)}`;

describe('the credentials file', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'baton-credentials-'));
    env = { BATON_CONFIG_DIR: join(root, 'config', 'baton') };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('lives in BATON_CONFIG_DIR, else XDG_CONFIG_HOME/baton, else ~/.config/baton', () => {
    expect(credentialsPath({ BATON_CONFIG_DIR: '/c' })).toBe('/c/credentials.json');
    expect(configDir({ XDG_CONFIG_HOME: '/x' })).toBe('/x/baton');
    expect(configDir({ HOME: '/home/ada' })).toMatch(/\.config\/baton$/);
  });

  it('is written 0600 in a 0700 directory, one token per server URL, others kept', () => {
    expect(savedToken('http://127.0.0.1:7070', env)).toBeUndefined();
    const path = saveToken('http://127.0.0.1:7070/', TOKEN_A, env);
    saveToken('https://baton.example:8443', TOKEN_B, env);
    expect(path).toBe(join(env.BATON_CONFIG_DIR!, 'credentials.json'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(env.BATON_CONFIG_DIR!).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      servers: { 'http://127.0.0.1:7070': { token: TOKEN_A }, 'https://baton.example:8443': { token: TOKEN_B } },
    });
    // A trailing slash or a default port names the same server.
    expect(savedToken('http://127.0.0.1:7070', env)).toBe(TOKEN_A);
    expect(savedToken('https://baton.example:8443/', env)).toBe(TOKEN_B);
    expect(savedToken('http://127.0.0.1:7071', env)).toBeUndefined();
    expect(serverKey('http://h:80/baton/')).toBe('http://h/baton');
  });

  it('is replaced whole by a rename (a new file, no temporary left), so a reader never sees half of it', () => {
    const path = saveToken('http://127.0.0.1:7070', TOKEN_A, env);
    const before = statSync(path).ino;
    saveToken('http://127.0.0.1:7070', TOKEN_B, env);
    expect(statSync(path).ino).not.toBe(before);
    expect(readdirSync(env.BATON_CONFIG_DIR!)).toEqual(['credentials.json']);
    expect(savedToken('http://127.0.0.1:7070', env)).toBe(TOKEN_B);
  });

  it('keeps a file that was readable by others private once rewritten', () => {
    mkdirSync(env.BATON_CONFIG_DIR!, { recursive: true });
    writeFileSync(credentialsPath(env), '{"servers":{}}', { mode: 0o644 });
    saveToken('http://127.0.0.1:7070', TOKEN_A, env);
    expect(statSync(credentialsPath(env)).mode & 0o777).toBe(0o600);
  });

  it('names a file that is not a credentials file, never quoting it', () => {
    mkdirSync(env.BATON_CONFIG_DIR!, { recursive: true });
    writeFileSync(credentialsPath(env), `{"servers":{"http://h":{"tok":"${TOKEN_A}"}}}`);
    expect(() => savedToken('http://h', env)).toThrow(/is not a Baton credentials file/);
    try {
      savedToken('http://h', env);
    } catch (err) {
      expect((err as Error).message).not.toContain(TOKEN_A);
    }
    writeFileSync(credentialsPath(env), `{"servers": ${TOKEN_A}`);
    expect(() => saveToken('http://h', TOKEN_B, env)).toThrow(/is not JSON; fix or remove it/);
  });

  it('gives client commands their token: --token, else BATON_TOKEN, else the one saved for --server', () => {
    saveToken('http://127.0.0.1:7070', TOKEN_A, env);
    const server = 'http://127.0.0.1:7070';
    expect(tokenFor({ server, json: false, token: 'flag-token' }, { ...env, BATON_TOKEN: TOKEN_B })).toBe('flag-token');
    expect(tokenFor({ server, json: false }, { ...env, BATON_TOKEN: TOKEN_B })).toBe(TOKEN_B);
    expect(tokenFor({ server, json: false }, env)).toBe(TOKEN_A);
    expect(tokenFor({ server: 'http://127.0.0.1:9', json: false }, env)).toBeUndefined();
  });

  it("gives baton dev the flag's or BATON_ADMIN_TOKEN's admin token, else the saved one for its URL, else a new one", () => {
    const flags = { host: '127.0.0.1', port: 7070, store: 'sqlite::memory:', logLevel: 'warn' };
    expect(predictedUrl(flags)).toBe('http://127.0.0.1:7070');
    expect(predictedUrl({ ...flags, host: '::1' })).toBe('http://[::1]:7070');
    expect(predictedUrl({ ...flags, port: 0 })).toBeNull();
    const fresh = devAdminToken(flags, env);
    expect(fresh.generated).toBe(true);
    expect(fresh.token).toMatch(/^baton_admin_[A-Za-z0-9_-]{43}$/);
    saveToken('http://127.0.0.1:7070', TOKEN_A, env);
    expect(devAdminToken(flags, env)).toEqual({ token: TOKEN_A, generated: false });
    expect(devAdminToken(flags, { ...env, BATON_ADMIN_TOKEN: TOKEN_B })).toEqual({ token: TOKEN_B, generated: false });
    expect(
      devAdminToken({ ...flags, adminToken: 'from-the-flag-0123' }, { ...env, BATON_ADMIN_TOKEN: TOKEN_B }),
    ).toEqual({ token: 'from-the-flag-0123', generated: false });
    // Port 0 is a new URL each time: nothing saved can be its token.
    expect(devAdminToken({ ...flags, port: 0 }, env).generated).toBe(true);
  });
});
