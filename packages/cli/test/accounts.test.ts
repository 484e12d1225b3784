import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatonProcess } from '../../../test/baton-process.js';
import { startBatonListening } from '../../../test/baton-process.js';
import type { Run } from './baton-run.js';
import { runBaton } from './baton-run.js';

const ADMIN_TOKEN = 'accounts-admin-token-0123456789';
const TOKEN_SHAPE = /^baton_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

/**
 * Users, tokens, whoami and quotas end to end: `baton dev` with an admin token (saved in the
 * credentials file, so the admin's commands need no flag) and the CLI as the admin and as a
 * user with their own token.
 */
describe('baton users, tokens, whoami and quota against baton dev', () => {
  let dev: BatonProcess;
  let configDir: string;
  let empty: string;
  const admin = (...args: string[]): Promise<Run> =>
    runBaton([...args, '--server', dev.url], { BATON_CONFIG_DIR: configDir, BATON_TOKEN: undefined });
  const as = (token: string, ...args: string[]): Promise<Run> =>
    runBaton([...args, '--server', dev.url], { BATON_CONFIG_DIR: empty, BATON_TOKEN: token });

  beforeAll(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'baton-accounts-'));
    empty = mkdtempSync(join(tmpdir(), 'baton-accounts-none-'));
    dev = await startBatonListening('dev', ['--store', 'sqlite::memory:', '--admin-token', ADMIN_TOKEN], 20_000, {
      env: { BATON_CONFIG_DIR: configDir },
    });
  });
  afterAll(async () => {
    dev?.child.kill('SIGINT');
    await dev?.exited;
    for (const dir of [configDir, empty]) rmSync(dir, { recursive: true, force: true });
  });

  it('whoami: the saved admin token acts as the built-in admin; no token is refused with where to get one', async () => {
    const me = await admin('whoami');
    expect(me.code, me.stderr).toBe(0);
    expect(me.stdout).toMatch(/^admin \(role admin, weight 1, built in\)\nquota:\n {2}max running: {2}unlimited/);
    const none = await runBaton(['whoami', '--server', dev.url], { BATON_CONFIG_DIR: empty, BATON_TOKEN: undefined });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/\(UNAUTHORIZED\): give --token, set BATON_TOKEN, or save a token for this server in /);
  });

  it('users add, list (table and JSON), and a second add of a name is USER_EXISTS', async () => {
    const added = await admin('users', 'add', 'ada', '--weight', '2');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^created user ada \(role user, weight 2\)\n/);
    expect((await admin('users', 'add', 'grace', '--role', 'admin', '--json')).stdout).toMatch(/"role": "admin"/);
    expect((await admin('users', 'add', 'vic', '--role', 'viewer')).stdout).toMatch(/^created user vic \(role viewer,/);
    const again = await admin('users', 'add', 'ada');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\(USER_EXISTS\)\n$/);
    const list = await admin('users', 'list');
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+WEIGHT\s+CREATED\nada\s+user\s+2\s+\d{4}-/);
    const json = JSON.parse((await admin('users', 'list', '--json')).stdout);
    expect(json.users.map((u: { name: string }) => u.name).sort()).toEqual(['ada', 'grace', 'vic']);
  });

  it("tokens create prints the token once; the user's token acts as them, and may not manage users", async () => {
    const created = await admin('tokens', 'create', 'ada');
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    const id = TOKEN_SHAPE.exec(token)?.[1];
    expect(id).toBeDefined();
    expect(created.stderr).toMatch(new RegExp(`^token ${id} for ada: it is not shown again`));

    const me = await as(token, 'whoami');
    expect(me.stdout).toMatch(/^ada \(role user, weight 2\)\n/);
    const listed = await as(token, 'tokens', 'list', 'ada');
    expect(listed.stdout).toMatch(new RegExp(`^ID\\s+USER\\s+CREATED\\n${id}\\s+ada\\s+`));
    expect(listed.stdout).not.toContain(token);

    const forbidden = await as(token, 'users', 'list');
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/\(FORBIDDEN\)\n$/);
    // The job is ada's: a user's token names its owner.
    const submitted = await as(token, 'submit', 'demo.echo', '--delay-ms', '60000', '--json');
    expect(submitted.code, submitted.stderr).toBe(0);
    const job = await admin('job', JSON.parse(submitted.stdout).id, '--json');
    expect(JSON.parse(job.stdout).owner).toBe('ada');
  });

  it('quota set, show and reset, for a user and the default; over the queued quota is QUOTA_EXCEEDED with its wait', async () => {
    const set = await admin('quota', 'set', 'ada', '--max-queued', '1', '--max-gpus', '2', '--submit-rate', 'none');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe(
      'quota of ada (their own)\n  max running:  unlimited\n  max gpus:     2\n  max queued:   1\n  submit rate:  unlimited\n',
    );
    const shown = JSON.parse((await admin('quota', 'show', 'ada', '--json')).stdout);
    expect(shown).toEqual({
      user: 'ada',
      source: 'user',
      quota: { maxRunningJobs: null, maxGpus: 2, maxQueuedJobs: 1, submitRatePerSec: null },
    });

    // ada already has a delayed job (the test before): one more is over her queued quota.
    const token = (await admin('tokens', 'create', 'ada')).stdout.trim();
    const over = await as(token, 'submit', 'demo.echo', '--delay-ms', '60000');
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/\(QUOTA_EXCEEDED; retry after \d+ s\)\n$/);
    expect(over.stderr).not.toMatch(/retrying/); // reported at once, not retried

    const reset = await admin('quota', 'reset', 'ada');
    expect(reset.stdout).toMatch(/^quota of ada \(the default\)\n/);
    const def = await admin('quota', 'set', '--default', '--max-running', '5');
    expect(def.stdout).toMatch(/^default quota\n {2}max running: {2}5\n/);
    expect(JSON.parse((await admin('quota', 'show', '--default', '--json')).stdout).quota.maxRunningJobs).toBe(5);
    expect((await as(token, 'whoami')).stdout).toMatch(/max running: {2}5/);
  });

  it('tokens revoke: the token is refused from then on, and no error shows it', async () => {
    const token = (await admin('tokens', 'create', 'grace')).stdout.trim();
    const id = TOKEN_SHAPE.exec(token)![1]!;
    const revoked = await admin('tokens', 'revoke', id);
    expect(revoked.stdout).toBe(`revoked token ${id} of grace\n`);
    const refused = await as(token, 'whoami');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\(UNAUTHORIZED\)/);
    expect(refused.stderr).not.toContain(token);
    const unknown = await admin('tokens', 'revoke', id);
    expect(unknown.stderr).toMatch(/\(TOKEN_NOT_FOUND\)\n$/);
  });

  it('users set changes a weight or role; with neither it is a usage error', async () => {
    await admin('users', 'add', 'wes');
    const set = await admin('users', 'set', 'wes', '--weight', '2.5', '--json');
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ name: 'wes', role: 'user', weight: 2.5 });
    const none = await admin('users', 'set', 'wes');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give --role or --weight/);
    const unknown = await admin('users', 'set', 'nobody-here', '--role', 'admin');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/USER_NOT_FOUND/);
  });

  it('users remove; a second remove is USER_NOT_FOUND', async () => {
    const removed = await admin('users', 'remove', 'grace');
    expect(removed.stdout).toBe('removed user grace\n');
    const again = await admin('users', 'remove', 'grace');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\(USER_NOT_FOUND\)\n$/);
  });
});
